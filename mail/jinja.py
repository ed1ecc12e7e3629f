"""The Jinja2 environments of emails and pages: the `i18n` extension (`{% trans %}`, `_()`,
plural forms) wired to the catalogs, and the filters that show codes and figures in words.

The gettext callables behave as the extension's "newstyle" ones (the message is escaped-safe
under autoescape and formatted with the call's variables) but call the catalogs directly:
`_()` is `gettext` itself rather than an alias looked up at each call, and a message is not
run through `%` when it has neither variables nor a `%` to collapse (the result is the same).

An environment made for one language (`locale=`) translates at compile time what is the same
for every render: each `_("...")`, `gettext`/`pgettext` of a constant and `{% trans %}` block
without a plural becomes its translation in that language, still formatted with the call's
variables at render time. Plural forms and messages that are not constants stay calls.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, nodes, pass_context
from jinja2.runtime import Context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from mail import display, formats, i18n


def _finish(context: Context, text: str, variables: dict[str, Any]) -> str:
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables if variables or "%" in text else text


@pass_context
def _gettext(context: Context, message: str, /, **variables: Any) -> str:
    return _finish(context, i18n.gettext(message), variables)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, num: int, /, **variables: Any) -> str:
    variables.setdefault("num", num)
    return _finish(context, i18n.ngettext(singular, plural, num), variables)


@pass_context
def _pgettext(context: Context, message_context: str, message: str, /, **variables: Any) -> str:
    variables.setdefault("context", message_context)
    return _finish(context, i18n.pgettext(message_context, message), variables)


@pass_context
def _npgettext(
    context: Context,
    message_context: str,
    singular: str,
    plural: str,
    num: int,
    /,
    **variables: Any,
) -> str:
    variables.setdefault("context", message_context)
    variables.setdefault("num", num)
    return _finish(context, i18n.npgettext(message_context, singular, plural, num), variables)


class _TranslateConstants(NodeTransformer):
    """Replaces the gettext calls of constant messages with their translation in `tag`."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def visit_Call(self, call: nodes.Call) -> nodes.Node:
        node = self.generic_visit(call)
        if not isinstance(node, nodes.Call) or node.dyn_args or node.dyn_kwargs:
            return node
        callee = node.node
        args = [arg.value for arg in node.args if isinstance(arg, nodes.Const)]
        if not isinstance(callee, nodes.Name) or len(args) != len(node.args):
            return node
        variables = {keyword.key: keyword.value for keyword in node.kwargs}
        with i18n.using(self.tag):
            if callee.name in ("_", "gettext") and len(args) == 1:
                text = i18n.gettext(args[0])
            elif callee.name == "pgettext" and len(args) == 2:
                variables.setdefault("context", nodes.Const(args[0]))
                text = i18n.pgettext(args[0], args[1])
            else:
                return node
        translated: nodes.Expr = nodes.MarkSafeIfAutoescape(nodes.Const(text))
        if variables or "%" in text:
            pairs = [nodes.Pair(nodes.Const(key), value) for key, value in variables.items()]
            translated = nodes.Mod(translated, nodes.Dict(pairs))
        return translated.set_lineno(node.lineno)


class _LocaleEnvironment(Environment):
    """An environment whose templates are compiled for one language."""

    locale: str

    def compile(
        self,
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if isinstance(source, str):
            source = self.parse(source, name, filename)
        source = _TranslateConstants(self.locale).visit(source)
        if raw:
            return super().compile(source, name, filename, True, defer_init)
        return super().compile(source, name, filename, False, defer_init)


def i18n_environment(locale: str | None = None, **options: Any) -> Environment:
    """An environment translating at render time in the current language, or, given
    `locale`, one whose templates are compiled in that language."""
    if locale is None:
        env = Environment(extensions=["jinja2.ext.i18n"], **options)
    else:
        env = _LocaleEnvironment(extensions=["jinja2.ext.i18n"], **options)
        env.locale = locale
    env.policies["ext.i18n.trimmed"] = True
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.globals.update(
        gettext=_gettext,
        _=_gettext,
        ngettext=_ngettext,
        pgettext=_pgettext,
        npgettext=_npgettext,
    )
    env.filters.update(
        workload=display.workload,
        reason=display.reason,
        segment=display.segment,
        money=formats.money,
        number=formats.number,
        moment=formats.moment_long,
        moment_short=formats.moment_short,
        percent=formats.percent,
        day=formats.day,
        country=formats.country,
        language=formats.language,
        yes_no=display.yes_no,
        kind=display.kind,
    )
    return env
