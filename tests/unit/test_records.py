"""The sample record's fields (`evals.records`): a wrong value is named, never computed on."""

from __future__ import annotations

import copy
import json

import pytest
from test_report import make_run

from disca_edge.evals import runlog
from disca_edge.evals.records import read_records, record_problem
from disca_edge.evals.runlog import RunLog, RunLogError


@pytest.fixture(scope="module")
def run():
    return make_run(countries=("USA",), n=3)


def test_records_as_the_worker_writes_them_are_fine(run):
    _, records = run
    assert [record_problem(r) for r in records] == [None, None, None]
    assert record_problem(json.loads(json.dumps(records[0]))) is None  # through JSON


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda r: r["logits"][1][4].__setitem__(1, float("nan")),
         "field 'logits'[1][4][1] is nan, not a finite number"),
        (lambda r: r["logits"][0][2].__setitem__(0, "31.5"),
         "field 'logits'[0][2][0] is '31.5', not a finite number"),
        (lambda r: r["logits"][1].pop(), "field 'logits' must hold the same number of agents"),
        (lambda r: r.__setitem__("logits", [[1, 2]]), "field 'logits' must be 2 lists"),
        (lambda r: r.pop("logits"), "field 'logits' is missing"),
        (lambda r: r.__setitem__("category", "Speed"),
         "field 'category' is 'Speed', not one of Species, SocialValue, Gender, Age, Fitness, "
         "Utilitarianism"),
        (lambda r: r.__setitem__("pool_position", "3"), "field 'pool_position' is '3', not an"),
        (lambda r: r.__setitem__("vignette_index", True), "field 'vignette_index' is True, not"),
        (lambda r: r.__setitem__("preferred_right", "yes"), "field 'preferred_right' is 'yes'"),
        (lambda r: r.__setitem__("scenario_id", [1]), "field 'scenario_id' is [1], not a scenario"),
        (lambda r: r["delta_micro"].__setitem__("disca_paper", "x"),
         "field 'delta_micro'.disca_paper is 'x', not a finite number"),
        (lambda r: r.__setitem__("diagnostics", 3), "field 'diagnostics' is 3, not a mapping"),
    ],
    ids=["nan-logit", "text-logit", "ragged", "short", "no-logits", "category", "position",
         "bool-index", "text-flag", "list-id", "text-delta", "diagnostics"],
)  # fmt: skip
def test_a_wrong_field_is_named(run, edit, problem):
    record = copy.deepcopy(run[1][0])
    edit(record)
    assert record_problem(record).startswith(problem)


def test_read_records_names_file_line_and_record(run, tmp_path):
    header, records = run
    bad = copy.deepcopy(records[2])
    bad["logits"][0][0][0] = float("nan")
    with RunLog.open(tmp_path, header) as log:
        log.append(records[:2])
    with (tmp_path / runlog.SAMPLES_FILE).open("a") as handle:
        handle.write(json.dumps(bad) + "\n")  # as a hand edit writes it: NaN literal
    assert len(runlog.read_samples(tmp_path)) == 3  # parsed as JSON
    with pytest.raises(RunLogError) as refused:
        read_records(tmp_path)
    assert str(refused.value) == (
        f"{tmp_path}/{runlog.SAMPLES_FILE}:3 (USA/{bad['scenario_id']}): field "
        "'logits'[0][0][0] is nan, not a finite number"
    )
