import pytest

from eznas.rowlog import appending, done_archs


def test_rows_append_resume_and_other_columns_are_refused(tmp_path):
    path = str(tmp_path / "t.csv")
    assert done_archs(path) == set()
    with appending(path, ["arch", "score"]) as write:
        write({"arch": "a", "score": 1.5})
    with appending(path, ["arch", "score"]) as write:  # a resumed run appends, no second header
        write({"arch": "b", "score": 2})
    assert done_archs(path) == {"a", "b"}
    before = open(path).read()
    assert before.splitlines() == ["arch,score", "a,1.5", "b,2"]
    with pytest.raises(ValueError, match="t.csv.*columns"):
        with appending(path, ["arch", "score", "extra"]):
            pass
    assert open(path).read() == before


def _squares(items):
    return ({"arch": str(i), "score": i * i} for i in items)


def test_append_rows_keeps_the_order_of_the_items_with_any_number_of_jobs(tmp_path):
    from eznas.rowlog import append_rows

    for jobs in (1, 2):
        path = str(tmp_path / f"j{jobs}.csv")
        append_rows(path, ["arch", "score"], _squares, list(range(7)), jobs=jobs, chunk=2, progress=False)
        assert open(path).read().splitlines() == ["arch,score"] + [f"{i},{i * i}" for i in range(7)]
