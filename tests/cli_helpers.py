"Helpers shared by the command-line tests: run `vmddpm` in-process and check that a failure is one clear line."
import pytest
import torch

from vmddpm_nb.cli import main


@pytest.fixture(autouse=True)
def _one_thread():
    "Run each command test on one torch thread (tests share a small machine); restore the count afterwards."
    old = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def run(argv, capsys):
    "main(argv) → (exit status, stdout, stderr)."
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def one_line_error(code, err, *words):
    "Exit status 1 and a single stderr line, no traceback, naming each of `words`."
    assert code == 1, (code, err)
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    for w in words: assert w in err, (w, err)
