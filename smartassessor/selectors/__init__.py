"""Reads for the integration's pages, API and services, one module per record they read:
``enrolments``, ``enrolment_preview``, ``links`` and ``sync_runs``."""
