"""The one exception tree of carr_agent.

Vendor errors (httpx, ddgs, tantivy, transformers, judge clients) are mapped at the seam with
``raise XError(...) from exc`` so callers only ever catch these::

    CarrError
    ├── ConfigError            invalid configuration or argument values (also a ValueError)
    ├── DataError              bad input data (also a ValueError)
    │   ├── TaskFormatError    a task line/file that cannot be used (names the line and key)
    │   ├── HistoryFormatError a reference-format history that cannot be parsed
    │   └── CorpusError        a corpus JSONL / index that cannot be built or opened
    ├── ToolError              a tool failed; the graph turns it into an error observation
    │   ├── ToolArgumentError  a tool argument it cannot use (also a ValueError)
    │   ├── SearchError        a search backend failed (network, rate limit, engine)
    │   ├── FetchError         a page could not be fetched or extracted
    │   │   └── BlockedURLError  the SSRF guard refused the URL (scheme, private address, ...)
    │   └── NoPageOpenError    `find` was called with no open page
    ├── JudgeError             a judge call failed (transport, timeout, invalid output after retries)
    │   └── JudgeOutputError   the judge answered, but not in the required contract
    ├── ModelError             a local model could not be installed, verified or loaded
    │   └── ContextLengthError a prompt does not fit the model's (or engine's) context window
    └── TrainingError          the training loop cannot continue (e.g. token mismatch, bad checkpoint)
        └── TimeBudgetError    a rollout ran past its wall-clock budget

Programming errors (TypeError, AttributeError, ...) and LangGraph control-flow exceptions are never
wrapped: they propagate.
"""

from __future__ import annotations


class CarrError(Exception):
    """Base class of every error carr_agent raises on purpose."""


class ConfigError(CarrError, ValueError):
    """A configuration value or argument is invalid; the message names it."""


class DataError(CarrError, ValueError):
    """Input data is malformed; the message names where."""


class TaskFormatError(DataError):
    """A task record cannot be used (missing label, rubrics without <E0>, invalid JSON, ...)."""


class HistoryFormatError(DataError):
    """A reference-format message history cannot be parsed."""


class CorpusError(DataError):
    """A corpus file or index is malformed or missing."""


class ToolError(CarrError):
    """A tool failed. The agent graph reports it to the model as an error observation."""


class ToolArgumentError(ToolError, ValueError):
    """A tool was called with an argument it cannot use (empty query, index out of range, ...).

    The message is written for the model: it names the argument and what would be valid, so the
    graph can show it as an error observation and the agent can correct the call.
    """


class SearchError(ToolError):
    """A search backend failed."""


class FetchError(ToolError):
    """A page could not be fetched or its text extracted."""


class BlockedURLError(FetchError):
    """The SSRF guard refused a URL (non-http scheme, loopback/private/link-local/metadata host)."""


class NoPageOpenError(ToolError):
    """`find` was called before any page was opened."""


class JudgeError(CarrError):
    """A judge call failed; the affected score is *unknown*, never 0."""


class JudgeOutputError(JudgeError):
    """The judge replied, but its output violates the required contract."""


class ModelError(CarrError):
    """A local model could not be installed, verified or loaded."""


class ContextLengthError(ModelError):
    """A prompt does not fit the model's (or the rollout engine's) context window.

    Caused by the policy (its history grew too long): a training rollout that raises it ends as
    ``context_budget`` and is scored as unfinished (0), not left out.
    """


class TrainingError(CarrError):
    """The training loop cannot continue."""


class TimeBudgetError(TrainingError):
    """A rollout ran past ``rollout.time_budget_s``; it ends as ``time_budget`` (scored 0)."""
