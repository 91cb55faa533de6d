"""Which ONNX Runtime provider runs the uplifter, and one loaded ``Uplifter`` per model and provider.

``resolve_provider("cuda")`` -> providers list (CPU last as the fallback) or PipelineError; ``get_uplifter``
caches loaded models per process; ``UplifterLoader`` loads one in a background thread while detection runs;
``device_label`` names a provider for people ("GPU (CUDA)").
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from .errors import PipelineError
from .uplifter import DEFAULT_MODEL_PATH, ModelMismatchError, Uplifter

_PROVIDER_LABELS = {"CUDAExecutionProvider": "GPU (CUDA)", "DmlExecutionProvider": "GPU (DirectML)",
                    "CoreMLExecutionProvider": "CoreML", "CPUExecutionProvider": "CPU"}


def device_label(provider: str) -> str:
    """A person's name for an ONNX Runtime provider ("CUDAExecutionProvider" -> "GPU (CUDA)")."""
    return _PROVIDER_LABELS.get(provider, provider.removesuffix("ExecutionProvider"))


def resolve_provider(name: str | None, available: list[str] | None = None) -> list[str] | None:
    """ONNX Runtime providers for ``name`` ("cuda", "CUDAExecutionProvider", ...; None: automatic),
    CPU last as the fallback; PipelineError when that provider is not available here."""
    if name is None or not str(name).strip():
        return None
    if available is None:
        import onnxruntime as ort
        available = ort.get_available_providers()
    want = str(name).strip().lower().removesuffix("executionprovider")
    match = [p for p in available if p.lower().removesuffix("executionprovider") == want]
    if not match:
        raise PipelineError(f"ONNX Runtime provider {name!r} is not available here "
                            f"(available: {', '.join(available)})")
    return list(dict.fromkeys([match[0], "CPUExecutionProvider"]))


@lru_cache(maxsize=2)
def _cached_uplifter(model_path: str | None, providers: tuple[str, ...] | None) -> Uplifter:
    return Uplifter(model_path, providers=list(providers) if providers else None)


def get_uplifter(model_path: str | Path | None = None, provider: str | None = None) -> Uplifter:
    """A shared ``Uplifter`` for this model and provider (loaded once per process);
    PipelineError for a missing or mismatching model or an unavailable provider."""
    providers = resolve_provider(provider)
    try:
        return _cached_uplifter(None if model_path is None else str(model_path),
                                None if providers is None else tuple(providers))
    except (FileNotFoundError, ModelMismatchError) as err:
        raise PipelineError(str(err).splitlines()[0]) from err


class UplifterLoader:
    """``get_uplifter`` in a background thread; ``result()`` waits and returns it or re-raises.
    Provider and model file are checked at once, so those mistakes fail before any detection."""

    def __init__(self, model_path, provider):
        resolve_provider(provider)
        path = Path(model_path) if model_path is not None else DEFAULT_MODEL_PATH
        if not path.is_file():
            raise PipelineError(f"uplifter model not found: {path}")
        self._value: Uplifter | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, args=(model_path, provider), daemon=True,
                                        name="uplift-model-load")
        self._thread.start()

    def _load(self, model_path, provider) -> None:
        try:
            self._value = get_uplifter(model_path, provider)
        except BaseException as err:  # handed to the caller by result()
            self._error = err

    def result(self) -> Uplifter:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
