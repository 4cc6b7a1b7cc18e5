"""Where each source comes from: Hub repository, pinned revision, data files, license.

Revisions are full commit hashes of the Hub repositories (for the script-based datasets, ``neulab/ted_multi`` and
``Samsung/samsum``, a commit that holds the Parquet conversion, since ``datasets`` no longer runs loading scripts).
Changing a revision changes the release: bump the release name with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from compbench.sources.base import HubLocation


@dataclass(frozen=True)
class SourcePin:
    name: str
    title: str
    location: HubLocation
    license: str  # SPDX-style id as the Hub uses it
    license_name: str
    citation: str


SOURCE_PINS: dict[str, SourcePin] = {pin.name: pin for pin in (
    SourcePin(
        name="dialogsum", title="DialogSum",
        location=HubLocation("knkarthick/dialogsum", "f6bf536de69725c3228082c8455e2a3c2dc6af86", "csv",
                             {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"},
                             builder_options=(("keep_default_na", False),)),
        license="cc-by-nc-sa-4.0", license_name="CC BY-NC-SA 4.0",
        citation="Chen et al. 2021, DialogSum: A Real-Life Scenario Dialogue Summarization Dataset",
    ),
    SourcePin(
        name="synthetic_persona_chat", title="Synthetic Persona Chat",
        location=HubLocation("google/Synthetic-Persona-Chat", "0c41d8e4160ff66d132c5e234dbda94a355422b1", "parquet",
                             {"train": "default/train/*.parquet", "validation": "default/validation/*.parquet",
                              "test": "default/test/*.parquet"}),
        license="cc-by-4.0", license_name="CC BY 4.0",
        citation="Jandaghi et al. 2024, Faithful Persona-based Conversational Dataset Generation with LLMs",
    ),
    SourcePin(
        name="ted", title="TED Talks (multilingual)",
        location=HubLocation("neulab/ted_multi", "d61ca47dfab122fe9257727766ac53d306e5a449", "parquet",
                             {"train": "plain_text/train/*.parquet", "validation": "plain_text/validation/*.parquet",
                              "test": "plain_text/test/*.parquet"}),
        license="cc-by-nc-nd-4.0", license_name="CC BY-NC-ND 4.0",
        citation="Qi et al. 2018, When and Why Are Pre-Trained Word Embeddings Useful for Neural Machine Translation?",
    ),
    SourcePin(
        name="sound_natural", title="Sound Natural (message content rephrasing)",
        location=HubLocation("facebook/content_rephrasing", "80e34a787a6c757d2e9cad051ac26c3353b70225", "csv",
                             {"train": "train.tsv", "validation": "val.tsv", "test": "test.tsv"},
                             builder_options=(("delimiter", "\t"), ("keep_default_na", False))),
        license="cc-by-sa-4.0", license_name="CC BY-SA 4.0",
        citation="Einolghozati et al. 2020, Sound Natural: Content Rephrasing in Dialog Systems",
    ),
    SourcePin(
        name="samsum", title="SAMSum",
        location=HubLocation("Samsung/samsum", "a3e27aad035a3d2fb53a0ed5f58fb17e9c4d28e7", "parquet",
                             {"train": "samsum/train-*.parquet", "validation": "samsum/validation-*.parquet",
                              "test": "samsum/test-*.parquet"}),
        license="cc-by-nc-nd-4.0", license_name="CC BY-NC-ND 4.0",
        citation="Gliwa et al. 2019, SAMSum Corpus: A Human-annotated Dialogue Dataset for Abstractive Summarization",
    ),
)}
