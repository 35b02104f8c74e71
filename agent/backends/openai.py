"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint, through langchain-openai.

Connection settings (``Connection``: endpoint, key, model, sampling, timeout, retries) are kept apart
from the drafting code, so OpenAI, Azure OpenAI (v1 endpoint), vLLM and llama.cpp's server differ
only in settings. The model fills ``DeterminationDraft`` by function calling (the method that works
with both OpenAI and llama.cpp's server). Every failure (transport, HTTP status after the client's
own retries, timeout, invalid JSON, schema mismatch) becomes a ``BackendError``; messages name the
endpoint, status and schema fields, never note text.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from agent.backends.base import DraftRequest
from agent.backends.cache import CachedReply, LLMCache, cache_key
from agent.backends.llm_draft import DeterminationDraft, to_determination
from agent.backends.prompts import PROMPT_VERSION, render
from agent.cases.determination import Determination, TokenUsage, Violation
from agent.errors import BackendError, ConfigError
from agent.settings import Settings, get_settings

log = logging.getLogger(__name__)
TOOL_NAME = DeterminationDraft.__name__
OPENAI_URL = "https://api.openai.com/v1"


class Connection(BaseModel):
    """Where and how to call the model; nothing here knows about determinations."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str
    api_key: SecretStr
    model: str
    temperature: float = 0.0
    timeout: float = 60.0
    max_retries: int = 2
    max_tokens: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Connection:
        key = settings.openai_api_key
        if key is None:
            if settings.openai_base_url is None:
                raise ConfigError(
                    "the openai backend needs UMREVIEW_OPENAI_API_KEY (or UMREVIEW_OPENAI_BASE_URL for a local server "
                    "that takes no key); or use --backend offline"
                )
            key = SecretStr("not-needed")  # vLLM and llama.cpp accept any key
        return cls(
            base_url=settings.openai_base_url or OPENAI_URL,
            api_key=key,
            model=settings.openai_model,
            temperature=settings.openai_temperature,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
            max_tokens=settings.openai_max_tokens,
        )

    def chat_model(self) -> Any:
        """A ChatOpenAI client (imported lazily: langchain costs a second at import)."""
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=self.model,
            base_url=self.base_url,
            api_key=self.api_key,
            temperature=self.temperature,
            timeout=self.timeout,
            max_retries=self.max_retries,
            use_responses_api=False,  # chat completions: the wire format vLLM and llama.cpp speak
            extra_body={"max_tokens": self.max_tokens} if self.max_tokens else None,  # llama.cpp ignores max_completion_tokens
        )


class ReplyError(BackendError):
    """The endpoint answered, but not with a usable draft; the tokens were still spent."""

    def __init__(self, message: str, usage: TokenUsage) -> None:
        super().__init__(message)
        self.usage = usage


def _usage(raw: Any) -> TokenUsage:
    meta = getattr(raw, "usage_metadata", None) or {}
    return TokenUsage(input_tokens=meta.get("input_tokens", 0), output_tokens=meta.get("output_tokens", 0), requests=1)


def _describe_parse_error(exc: BaseException) -> str:
    """Schema problems by field path and error type only: the values may be note text."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, ValidationError):
        seen = seen.__cause__ or seen.__context__
    if isinstance(seen, ValidationError):
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['type']}" for e in seen.errors()[:5])
        return f"reply does not match the {TOOL_NAME} schema ({fields})"
    return f"reply could not be parsed ({type(exc).__name__})"


def _describe_missing(raw: Any) -> str:
    if getattr(raw, "invalid_tool_calls", None):
        return f"invalid JSON in the {TOOL_NAME} function arguments"
    return f"reply has no {TOOL_NAME} function call"


class OpenAIBackend:
    """Drafts determinations with an OpenAI-compatible model; the validator decides what stands."""

    name = "openai"
    kind: Literal["rules", "llm"] = "llm"
    prompt_version: str | None = PROMPT_VERSION

    def __init__(
        self, settings: Settings | None = None, *, connection: Connection | None = None, cache: bool | None = None
    ) -> None:
        settings = settings or get_settings()
        self.connection = connection or Connection.from_settings(settings)
        self.model: str | None = self.connection.model
        use_cache = settings.llm_cache if cache is None else cache
        self.cache = LLMCache(settings.llm_cache_dir) if use_cache else None
        llm = self.connection.chat_model()  # built once, shared by batch worker threads (the client is thread-safe)
        self._runnable = llm.with_structured_output(DeterminationDraft, method="function_calling", include_raw=True)

    def _call(self, messages: list[tuple[str, str]]) -> tuple[DeterminationDraft, TokenUsage, str]:
        import openai

        where = self.connection.base_url
        try:
            out = self._runnable.invoke(messages)
        except openai.APITimeoutError as exc:
            raise BackendError(f"no reply from {where} within {self.connection.timeout:g} s") from exc
        except openai.APIStatusError as exc:
            retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500  # what the client retries
            after = f" after {self.connection.max_retries} retries" if retried else ""
            raise BackendError(f"HTTP {exc.status_code} from {where}{after}") from exc
        except openai.APIConnectionError as exc:
            raise BackendError(f"cannot reach {where} ({type(exc.__cause__ or exc).__name__})") from exc
        except Exception as exc:  # any other client failure must end in the fallback, not a crash
            raise BackendError(f"LLM client failed ({type(exc).__name__})") from exc
        raw = out["raw"]
        usage = _usage(raw)
        if out.get("parsing_error") is not None:
            raise ReplyError(_describe_parse_error(out["parsing_error"]), usage)
        parsed = out.get("parsed")
        if not isinstance(parsed, DeterminationDraft):
            raise ReplyError(_describe_missing(raw), usage)
        served = (getattr(raw, "response_metadata", None) or {}).get("model_name") or self.connection.model
        return parsed, usage, served

    def draft(self, request: DraftRequest, feedback: list[Violation] | None = None) -> Determination:
        prompt = render(request, TOOL_NAME, feedback)
        messages = prompt.messages()
        key = cache_key(
            endpoint=self.connection.base_url,
            model=self.connection.model,
            temperature=self.connection.temperature,
            prompt_version=prompt.version,
            schema=TOOL_NAME,
            messages=messages,
        )
        hit = self.cache.get(key) if self.cache else None
        draft: DeterminationDraft | None = None
        if hit is not None:
            try:
                draft, model = DeterminationDraft.model_validate(hit.reply), hit.model
                usage = TokenUsage(cache_hits=1)
            except ValidationError:
                draft = None  # written by an older schema: ask again
        if draft is None:
            draft, usage, model = self._call(messages)
            if self.cache:
                reply = draft.model_dump(mode="json")
                entry = CachedReply(model=model, reply=reply, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
                self.cache.put(key, entry)
        log.debug("case %s: draft from %s (%d+%d tokens)", request.case.id, model, usage.input_tokens, usage.output_tokens)
        try:
            return to_determination(draft, request, backend=self.name, model=model, prompt_version=prompt.version, usage=usage)
        except ValidationError as exc:
            raise ReplyError(_describe_parse_error(exc), usage) from exc
