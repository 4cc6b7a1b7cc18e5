"""The LLM judge's prompts (the paper's appendix A, figures A1-A3) and request parameters, versioned.

A *prompt version* pins everything that decides the judge's answer apart from the model: the templates, the
message layout and the sampling parameters. Changing any of them is a new version (``tests/test_judge_prompts.py``
holds a fingerprint of every version, so an edit that keeps the version fails there). Results record the version.

Templates are the paper's text verbatim, including its inconsistencies ("Ground truth summary" in the
cross-lingual prompt, "Ground-truth summary" elsewhere; no full stop before "Dialogue:" in the cross-lingual
one). The figures are images of text, so the line breaks are ours: one before the first field ("Dialogue:",
"Message:"), one between fields, one before the question. The filled prompt is sent as a single user message.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from compbench.tasks import LANGUAGES, Task

#: Which appendix A prompt judges which family (the OOD set is SAMSum summarized into Spanish).
PROMPT_OF_FAMILY: dict[str, str] = {
    "sum+tr": "cross_lingual_summarization",
    "ood": "cross_lingual_summarization",
    "sum+tone": "cross_tone_summarization",
    "reply+tr": "cross_lingual_reply",
    "reply+tone": "cross_tone_reply",
    "sum+tone+tr": "cross_lingual_tone_summarization",
}

_APPENDIX_A: dict[str, str] = {
    # Figure A1.
    "cross_lingual_summarization": (
        "You are in a setting where you want to summarize a dialogue in another language. The dialogue is in "
        "English, but the summary should be in {language}. Your task is to judge the quality of the summary and if "
        "it is in {language}. The summary should not take the form of a reply to the dialogue. I give you an "
        "example ground-truth summary that is in {language} and would be considered a good summary of the "
        "dialogue\n"
        "Dialogue: {source}\n"
        "Ground truth summary: {reference}\n"
        "Proposed summary: {prediction}\n"
        "Does the proposed summary summarize the dialogue and is it in {language}? Please respond with 0 or 1. "
        "Only output 0 or 1 and nothing else."
    ),
    "cross_tone_summarization": (
        "You are in a setting where you want to summarize a dialogue in a {tone} tone. Your task is to judge the "
        "quality of the summary and if it uses a {tone} tone. The summary should not take the form of a reply to "
        "the dialogue. I give you an example ground-truth summary that follows a {tone} tone and would be "
        "considered a good summary of the dialogue.\n"
        "Dialogue: {source}\n"
        "Ground-truth summary: {reference}\n"
        "Proposed summary: {prediction}\n"
        "Does the proposed summary summarize the dialogue and is it written in a {tone} tone? Please respond with "
        "0 or 1. Only output 0 or 1 and nothing else."
    ),
    # Figure A2.
    "cross_lingual_reply": (
        "You are in a setting where you receive a message in English and you reply in {language}. Your task is to "
        "judge the usefulness of the proposed reply. I give you an example ground-truth response in {language} "
        "that would be considered a good reply for the message in English. The proposed reply should not directly "
        "translate or paraphrase the message you have received, it should respond to it.\n"
        "Message in English: {source}\n"
        "Ground-truth reply in {language}: {reference}\n"
        "Proposed reply: {prediction}\n"
        "Is the proposed reply useful and is it in {language}? Please respond with 0 or 1. Only output 0 or 1 and "
        "nothing else."
    ),
    "cross_tone_reply": (
        "You are in a setting where you receive a message and you want to reply in a {tone} tone. Your task is to "
        "judge the usefulness of the proposed reply. I give you an example ground-truth response that follows a "
        "{tone} tone and would be considered a good reply for the message.\n"
        "Message: {source}\n"
        "Ground-truth reply: {reference}\n"
        "Proposed reply: {prediction}\n"
        "Is the proposed reply relevant and is it written in a {tone} tone? Please respond with 0 or 1. Only "
        "output 0 or 1 and nothing else."
    ),
    # Figure A3.
    "cross_lingual_tone_summarization": (
        "You are in a setting where you want to summarize a dialogue in a {tone} tone in another language. The "
        "dialogue is in English, but the summary should be in a {tone} tone in {language}. Your task is to judge "
        "the quality of the summary, if it uses a {tone} tone and if it is in {language}. The summary should not "
        "take the form of a reply to the dialogue. I give you an example ground-truth summary that follows a "
        "{tone} tone and is in {language}. The example would be considered a good summary of the dialogue.\n"
        "Dialogue: {source}\n"
        "Ground-truth summary: {reference}\n"
        "Proposed summary: {prediction}\n"
        "Does the proposed summary summarize the dialogue and is it written in a {tone} tone in {language}? "
        "Please respond with 0 or 1. Only output 0 or 1 and nothing else."
    ),
}


@dataclass(frozen=True)
class PromptVersion:
    """Templates plus the request parameters that go with them (temperature 0, few tokens, a fixed seed)."""

    name: str
    templates: dict[str, str]
    temperature: float
    max_tokens: int
    seed: int

    def fingerprint(self) -> str:
        """sha256 of everything the version pins; a test keeps it, so an edit must come with a new version."""
        blob = json.dumps({"templates": self.templates, "temperature": self.temperature,
                           "max_tokens": self.max_tokens, "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


VERSIONS: dict[str, PromptVersion] = {
    "appendix-a.1": PromptVersion(name="appendix-a.1", templates=_APPENDIX_A, temperature=0.0, max_tokens=4, seed=0),
}
CURRENT_VERSION = "appendix-a.1"


def can_judge(task: Task) -> bool:
    """Whether appendix A has a prompt for this sub-task (compositional families and the OOD set; no single task)."""
    return task.family in PROMPT_OF_FAMILY


def judge_prompt(task: Task, source: str, reference: str, prediction: str,
                 version: str = CURRENT_VERSION) -> str:
    """The filled appendix A prompt for one example: ``source`` is the dialogue or message, ``reference`` the
    ground truth, ``prediction`` the output judged."""
    template = VERSIONS[version].templates[PROMPT_OF_FAMILY[task.family]]
    return template.format(language=LANGUAGES.get(task.language or "", ""), tone=task.tone or "", source=source,
                           reference=reference, prediction=prediction)
