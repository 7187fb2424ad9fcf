"Docs checks that Quarto would otherwise do: README.md in step with nbs/index.ipynb, the sidebar complete."
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _nb2readme():
    spec = importlib.util.spec_from_file_location('nb2readme', ROOT / 'tools' / 'nb2readme.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_readme_in_step_with_index():
    expected = _nb2readme().render(ROOT / 'nbs' / 'index.ipynb')
    actual = (ROOT / 'README.md').read_text()
    assert actual == expected, 'README.md is out of step with nbs/index.ipynb: run `python tools/nb2readme.py`'


def test_readme_states_the_two_commands():
    text = (ROOT / 'README.md').read_text()
    assert 'vmddpm demo' in text and '\npytest' in text


def test_sidebar_lists_every_notebook():
    "The docs sidebar is hand-written (custom_sidebar): every lesson notebook must appear in it."
    sidebar = (ROOT / 'nbs' / 'sidebar.yml').read_text()
    missing = [p.name for p in sorted((ROOT / 'nbs').glob('*.ipynb')) if not p.name.startswith('_') and p.name not in sidebar]
    assert not missing, f'add these notebooks to nbs/sidebar.yml: {missing}'
