"""The sync engine: ten data kinds as job specs on one scheduler (see ``engine``/``specs``)."""
