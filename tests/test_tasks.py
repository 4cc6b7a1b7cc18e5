import json

from click.testing import CliRunner

from compbench.cli import main
from compbench.tasks import MAIN_FAMILIES, MAIN_SUBTASKS, REGISTRY, TONES, by_config_name, get_task


def test_fourteen_compositional_subtasks_in_four_families():
    assert len(MAIN_SUBTASKS) == 14
    assert {get_task(s).family for s in MAIN_SUBTASKS} == set(MAIN_FAMILIES)
    sizes = {f: sum(1 for s in MAIN_SUBTASKS if get_task(s).family == f) for f in MAIN_FAMILIES}
    assert sizes == {"sum+tr": 3, "sum+tone": 4, "reply+tr": 3, "reply+tone": 4}


def test_paper_prompts_verbatim():
    assert get_task("sum+tr-es").prompt == "Summarize the following text and translate it from English to Spanish."
    assert get_task("sum+tone-witty").prompt == "Summarize the following text and change its tone to witty"
    assert get_task("reply+tr-de").prompt == "Suggest a reply for the following text and translate it from English to German"
    assert get_task("reply+tone-paraphrase").prompt == (
        "Suggest a reply for the following text and change its tone to paraphrase")


def test_metrics_sizes_and_config_names():
    assert get_task("sum+tone-casual").metric == "rougeL"
    assert get_task("reply+tr-fr").metric == "weighted_rouge"
    assert get_task("sum+tr-de").splits == {"train": 12_460, "validation": 500, "test": 1_500}
    assert get_task("reply+tone-witty").splits == {"train": 225_061, "validation": 1_000, "test": 1_000}
    assert get_task("tr-es").splits == {"train": 196_026, "validation": 4_231, "test": 5_571}
    assert get_task("tone-casual").splits == {"train": 2_245, "validation": 321, "test": 642}
    assert get_task("sum+tone-professional+tr-fr").config_name == "sum_tone_professional_tr_fr"
    assert get_task("sum+tone-professional+tr-fr").steps == ("sum", "tone-professional", "tr-fr")
    assert by_config_name("reply_tone_witty").id == "reply+tone-witty"
    names = [t.config_name for t in REGISTRY.values()]
    assert len(names) == len(set(names))


def test_single_tasks_three_way_and_ood_present():
    for task_id in ("sum", "reply", "tr-es", "tr-fr", "tr-de", "tone-professional", "tone-casual", "tone-witty",
                    "tone-paraphrase", "sum+tone-professional+tr-es", "samsum+sum+tr-es"):
        assert task_id in REGISTRY


def test_unknown_task_suggests_close_ids():
    try:
        get_task("sum+tr-ex")
    except KeyError as exc:
        assert "sum+tr-es" in str(exc)
    else:
        raise AssertionError("expected an error")


def test_cli_tasks_json_and_table():
    runner = CliRunner()
    result = runner.invoke(main, ["tasks", "--json"])
    assert result.exit_code == 0
    tasks = json.loads(result.output)
    assert len(tasks) == len(REGISTRY)
    first = next(t for t in tasks if t["id"] == "sum+tr-es")
    assert {"id", "family", "prompt", "metric", "config_name", "splits"} <= set(first)
    assert first["splits"]["test"] == 1500 and first["config_name"] == "sum_tr_es"
    table = runner.invoke(main, ["tasks"])
    assert table.exit_code == 0
    assert "reply+tone-witty" in table.output and "225,061" in table.output


def test_tasks_command_refuses_an_unknown_family():
    result = CliRunner().invoke(main, ["tasks", "--family", "nosuch"])
    assert result.exit_code == 2 and "'nosuch' is not one of 'sum+tr'" in result.output
    listed = CliRunner().invoke(main, ["tasks", "--family", "reply+tone", "--json"])
    assert [t["id"] for t in json.loads(listed.output)] == [f"reply+tone-{t}" for t in TONES]
