"""The operator CLI (`python starter.py ...`): partners, referrals and reports."""
