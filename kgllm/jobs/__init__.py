"""Scheduled graph-building jobs: YAML specs, incremental crash-safe runs, a cron daemon, local or Ray extraction.

A job spec (``pipelines/*.yaml``, see :mod:`kgllm.jobs.spec`) names sources, an extractor, a store and a
schedule. :class:`Job` runs it once (:meth:`Job.run`), says where it stands (:meth:`Job.status`,
:meth:`Job.history`); :func:`~kgllm.jobs.scheduler.serve` runs specs on their cron schedules.

Examples
--------
>>> from kgllm.jobs import Job, load_spec
>>> callable(Job.from_file) and callable(load_spec)
True
"""

from __future__ import annotations

from kgllm.jobs.runner import Job
from kgllm.jobs.sources import Plan
from kgllm.jobs.spec import JobSpec, load_spec

__all__ = ["Job", "JobSpec", "Plan", "load_spec"]
