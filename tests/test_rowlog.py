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
