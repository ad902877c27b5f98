"""GradingSetupError: the grading cannot run here, which is not the exercise files' fault."""

import pytest


def test_setup_errors_have_their_own_type_and_keep_exit_status_2(tmp_path, capsys):
    from nnlib.__main__ import main
    from nnlib.grading.grader.grade import SandboxRequired
    from nnlib.grading.grader.results import check_output_path
    from nnlib.grading.impl import GradingSetupError, ImplementationError

    assert issubclass(GradingSetupError, ImplementationError)
    assert issubclass(SandboxRequired, GradingSetupError)
    with pytest.raises(GradingSetupError, match="cannot write the results file .*does not exist"):
        check_output_path(tmp_path / "missing" / "r.json", "results file")
    with pytest.raises(GradingSetupError, match="is a folder"):
        check_output_path(tmp_path, "results file")
    assert main(["grade", "--json", str(tmp_path / "missing" / "r.json")]) == 2
    assert "cannot write the results file" in capsys.readouterr().err
