"""A real browser opens what a researcher opens: the HTML report (offline, from file://) and a JupyterLab notebook
showing the panels. Debian's chromium, driven headless by Playwright's Python package (no browser download)."""
import contextlib, json, os, shutil, socket, subprocess, sys, time, urllib.request
import pytest

CHROMIUM = '/usr/bin/chromium'
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

def ensure_chromium():
    "Install Debian's chromium where it is missing (needs root and apt-get); skip, saying why, where it cannot be."
    if os.path.exists(CHROMIUM): return
    if not shutil.which('apt-get'): pytest.skip(f"{CHROMIUM} is missing and there is no apt-get to install Debian's chromium")
    if os.geteuid() != 0: pytest.skip(f"{CHROMIUM} is missing and installing it needs root: run `apt-get install -y chromium` as root")
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for cmd in (['apt-get', 'update'], ['apt-get', 'install', '-y', 'chromium']):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if r.returncode: pytest.skip(f"`{' '.join(cmd)}` failed (exit {r.returncode}): {(r.stderr or r.stdout)[-600:]}")
    if not os.path.exists(CHROMIUM): pytest.skip(f"apt-get installed chromium but {CHROMIUM} does not exist")

@pytest.fixture(scope='module')
def run_dir():
    "What the browser opens: $CA_NB_UI_RUN, else the tiny study of this code (`cached_run('tiny')`: built once, then reused)."
    from ca_nb.pipeline import cached_run
    run = os.environ.get('CA_NB_UI_RUN') or cached_run('tiny')
    print(f"browser tests open the run folder {run}")
    return run

@pytest.fixture(scope='module')
def browser():
    ensure_chromium()
    sync_api = pytest.importorskip('playwright.sync_api', reason="Playwright's Python package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()

def test_report_renders_offline(browser, run_dir, tmp_path):
    "The report's figures draw from file:// with every network request refused: plotly.js is inlined."
    from ca_nb.report import write_report
    path = write_report(run_dir, str(tmp_path / 'report.html'))
    page = browser.new_page(viewport={'width': 1300, 'height': 900})
    remote, errors = [], []
    page.route('**/*', lambda route: route.continue_() if route.request.url.startswith(('file:', 'data:'))
               else (remote.append(route.request.url), route.abort()))
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.goto('file://' + path)
    page.wait_for_selector('.js-plotly-plot .main-svg', timeout=60_000)
    n_divs = page.locator('.plotly-graph-div').count()
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_divs}", timeout=60_000)
    assert page.locator('.js-plotly-plot').count() == n_divs >= 8
    assert page.locator('.js-plotly-plot .heatmaplayer image').count() >= 2  # the agreement heatmaps, drawn
    assert page.locator('.js-plotly-plot .barlayer .point').count() > 20  # bars of the stage and task figures
    assert page.locator('table.ca-table').count() >= 4 and page.locator('.ca-pair').count() > 0
    assert page.locator('.ca-pair mark').count() > 0  # chosen/rejected differences highlighted
    page.screenshot(path=str(tmp_path / 'report.png'), full_page=False)
    assert not remote and not errors, (remote, errors)
    page.close()

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _wait_http(url, proc, timeout=90):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None: return False
        try:
            with urllib.request.urlopen(url, timeout=2): return True
        except Exception: time.sleep(0.5)
    return False

@contextlib.contextmanager
def _lab(tmp_path, cells):
    "JupyterLab on 127.0.0.1 serving a notebook of the code `cells`; yields (base url, notebook name)."
    import nbformat
    jupyter = os.path.join(os.path.dirname(sys.executable), 'jupyter')
    if not os.path.exists(jupyter): pytest.skip(f"{jupyter} is missing: install the dev requirements (jupyterlab)")
    root = tmp_path / 'lab'; root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata = {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}}
    nbformat.write(nb, root / 'panels.ipynb')
    settings = tmp_path / 'settings' / '@jupyterlab' / 'apputils-extension'; settings.mkdir(parents=True)
    (settings / 'notification.jupyterlab-settings').write_text('{"fetchNews": "false"}')  # no news prompt over the page
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / 'cfg'), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / 'ws'),
               JUPYTER_RUNTIME_DIR=str(tmp_path / 'rt'), JUPYTER_DATA_DIR=str(tmp_path / 'data'))
    log = open(tmp_path / 'lab.log', 'w')
    proc = subprocess.Popen([jupyter, 'lab', '--allow-root', '--no-browser', '--ip', '127.0.0.1', '--port', str(port),
                             '--ServerApp.port_retries=0', "--ServerApp.token=", "--ServerApp.password=",
                             f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
                             '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
                             f'--ServerApp.root_dir={root}'], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        if not _wait_http(f'http://127.0.0.1:{port}/api/status', proc):
            pytest.fail(f"JupyterLab did not start; its log:\n{open(tmp_path / 'lab.log').read()[-3000:]}")
        yield f'http://127.0.0.1:{port}', 'panels.ipynb'
    finally:
        proc.terminate()
        try: proc.wait(timeout=20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()

@pytest.fixture
def lab(run_dir, tmp_path):
    "JupyterLab serving a notebook that shows the panels of the run; yields (base url, notebook name)."
    with _lab(tmp_path, ("from ca_nb.widgets import ConsistencyPanel, PairPanel", f"ConsistencyPanel({run_dir!r})",
                         f"PairPanel({run_dir!r}, page_size=3)")) as got: yield got

def _kernel_ready(base, timeout=90) -> bool:
    "Whether the notebook's kernel is idle with the page connected to it (JupyterLab's REST API)."
    t0 = time.time()
    while time.time() - t0 < timeout:
        with urllib.request.urlopen(f'{base}/api/sessions', timeout=5) as r: ss = json.load(r)
        if ss and ss[0]['kernel']['execution_state'] == 'idle' and ss[0]['kernel']['connections'] >= 1: return True
        time.sleep(0.5)
    return False

def _run_all(browser, base, name):
    "Open the notebook in JupyterLab and run all its cells until a widget button shows; returns (page, output areas)."
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.set_default_timeout(60_000)
    page.goto(f'{base}/lab/tree/{name}?reset')
    page.locator('.jp-Notebook .jp-Cell').first.wait_for(state='visible')
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    dialog = page.locator('.jp-Dialog button.jp-mod-accept')
    if dialog.count(): dialog.first.click()
    assert _kernel_ready(base), "the notebook's kernel did not start"  # run-all before that is silently dropped
    out = page.locator('.jp-OutputArea-output')
    for attempt in range(3):  # Run menu -> Run All Cells
        page.locator('.lm-MenuBar-itemLabel', has_text='Run').first.click()
        page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
        try: out.locator('.widget-button').first.wait_for(state='visible', timeout=40_000); break
        except Exception:
            if attempt == 2: raise
    return page, out

def test_panels_render_in_jupyterlab(browser, lab, tmp_path):
    "Run all cells: the panels render as widgets (buttons, dropdowns) with the heatmap drawn as SVG, and a click runs Python."
    page, out = _run_all(browser, *lab)
    heatmap = out.locator('.js-plotly-plot .heatmaplayer image')
    heatmap.first.wait_for(state='attached', timeout=60_000)
    assert out.locator('.js-plotly-plot .main-svg').count() >= 2  # task bars and the agreement heatmap
    assert out.locator('.js-plotly-plot .barlayer .point').count() > 0
    assert out.locator('.widget-dropdown select').count() >= 5  # stage, task, instance; task and sort of the pair panel
    assert out.get_by_role('button', name='least consistent').count() == 1
    pairs = out.locator('.ca-pair')
    pairs.first.wait_for(state='visible')
    assert pairs.count() == 3 and out.locator('.ca-pair mark').count() > 0
    assert 'ConsistencyPanel(' not in out.first.inner_text()  # a rendered widget, not its text repr
    heatmap.first.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / 'consistency_panel.png'))
    # a click runs the Python callback: the instance shown changes
    title = out.locator('.widget-html-content b').first
    before = title.inner_text()
    out.get_by_role('button', name='next ▶').click()
    page.wait_for_function("b => document.querySelector('.jp-OutputArea-output .widget-html-content b').innerText !== b", arg=before)
    status = out.locator('.widget-label', has_text='pairs · page 1 of')
    status.wait_for(state='visible')
    out.get_by_role('button', name='next page ▶').click()
    out.locator('.widget-label', has_text='· page 2 of').wait_for(state='visible')
    page.screenshot(path=str(tmp_path / 'pair_panel.png'))
    page.close()

@pytest.fixture(scope='module')
def compare_dir(tmp_path_factory):
    "A small comparison: the cached tiny base and IA-SFT models on four suite tasks, and a model that is not there."
    from dataclasses import replace
    from ca_nb.sft import cached_base, cached_sft, TINY_DATA
    from ca_nb.models import RunContext
    from ca_nb.metrics import EvalConfig
    from ca_nb.compare import compare_models
    out = str(tmp_path_factory.mktemp('compare'))
    compare_models([f'base={cached_base()}', f'ia_sft={cached_sft()}', 'gone=/no/such/model'],
                   replace(TINY_DATA, task_ids=['sort_asc', 'max_num', 'upper_word', 'count_vowels']), EvalConfig(n_instances=3), out,
                   ctx=RunContext(device='cpu', threads=1, progress=False, log=lambda *a: None))
    return out

def test_compare_report_renders_offline(browser, compare_dir, tmp_path):
    "The comparison's report draws its forest plot and heatmaps from file:// with every network request refused."
    from ca_nb.leaderboard import write_compare_report
    path = write_compare_report(compare_dir, str(tmp_path / 'report.html'))
    page = browser.new_page(viewport={'width': 1300, 'height': 900})
    remote, errors = [], []
    page.route('**/*', lambda route: route.continue_() if route.request.url.startswith(('file:', 'data:'))
               else (remote.append(route.request.url), route.abort()))
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.goto('file://' + path)
    page.wait_for_selector('.js-plotly-plot .main-svg', timeout=60_000)
    n_divs = page.locator('.plotly-graph-div').count()
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_divs}", timeout=60_000)
    assert page.locator('.js-plotly-plot').count() == n_divs == 3   # the forest plot and two heatmaps
    assert page.locator('.js-plotly-plot .heatmaplayer image').count() == 2
    assert page.locator('.js-plotly-plot .scatterlayer .point').count() == 3   # one model against the baseline, three measures
    assert page.locator('.js-plotly-plot .scatterlayer .errorbar').count() == 3   # each with its interval
    board = page.locator('table.ca-leaderboard')
    assert board.locator('tr').count() == 4 and 'failed: ' in board.locator('tr').last.inner_text()
    assert page.locator('.ca-ok, .ca-bad').count() >= 3 * 2 * 7   # three instances, two models, seven wordings, all marked
    page.screenshot(path=str(tmp_path / 'compare_report.png'), full_page=False)
    assert not remote and not errors, (remote, errors)
    page.close()

def test_leaderboard_panel_renders_in_jupyterlab(browser, compare_dir, tmp_path):
    "Run all cells: the panel renders its table, forest plot and heatmap; sorting and stepping through instances run Python."
    with _lab(tmp_path, ("from ca_nb.leaderboard import LeaderboardPanel", f"LeaderboardPanel({compare_dir!r})")) as (base, name):
        page, out = _run_all(browser, base, name)
        out.locator('.js-plotly-plot .heatmaplayer image').first.wait_for(state='attached', timeout=60_000)
        out.locator('.js-plotly-plot .scatterlayer .point').first.wait_for(state='attached', timeout=60_000)
        assert out.locator('.js-plotly-plot .main-svg').count() >= 2   # the forest plot and the heatmap
        assert 'LeaderboardPanel(' not in out.first.inner_text()   # a rendered widget, not its text repr
        board = out.locator('table.ca-leaderboard')
        first = lambda: board.locator('tr').nth(1).locator('td').first.inner_text()
        top = first()
        out.get_by_role('button', name='ascending').click()   # the other order: another model on top
        page.wait_for_function("t => document.querySelector('table.ca-leaderboard tr:nth-child(2) td').innerText !== t", arg=top)
        assert 'failed: ' in board.locator('tr').last.inner_text()   # the failed model stays last
        answers = out.locator('.ca-answer')
        before = out.locator('.widget-html-content b', has_text=' · ').first.inner_text()
        out.get_by_role('button', name='next ▶').click()
        page.wait_for_function("b => [...document.querySelectorAll('.widget-html-content b')].some(e => e.innerText.includes(' · ') && e.innerText !== b)", arg=before)
        assert answers.count() == 2 * 7   # two models, seven wordings
        page.screenshot(path=str(tmp_path / 'leaderboard_panel.png'))
        page.close()
