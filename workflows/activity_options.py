"""How long the referral workflow's activities may run and how they are retried: values only,
no workflow code (the worker passes this module through the sandbox)."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Database work: retried with backoff for as long as the database is away.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["InvalidInput"],
)
DB_TIMEOUT = timedelta(seconds=30)
# Mail: temporary SMTP failures retry with backoff; permanent ones come back as a result.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
MAIL_TIMEOUT = timedelta(seconds=60)
MAIL_GIVE_UP = timedelta(hours=12)
