"""The practice's follow-up (W1-W4): worklists of families to enrol, registration drives
that issue their PINs family by family with a letter for each, reminders before PINs expire
and the enrollment report."""
