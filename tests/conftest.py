"Pytest options for running the notebooks the way `nbdev-test` does."


def pytest_addoption(parser):
    parser.addoption("--nb-flags", default="",
                     help="space-separated nbdev test flags to run anyway (e.g. 'slow' or 'cuda'), as `nbdev-test --flags`")
