"""The practice's follow-up (W1, W2): worklists of families to enrol, and registration drives
that issue their PINs family by family with a letter for each."""
