import os, pytest
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

@pytest.fixture(scope='session')
def tiny_base(tmp_path_factory):
    "A tiny base model trained once per test session (or the folder in $CA_NB_TINY)."
    if os.environ.get('CA_NB_TINY'): return os.environ['CA_NB_TINY']
    from ca_nb.tinylm import train_base
    out = str(tmp_path_factory.mktemp('tiny') / 'base')
    train_base(out, 'tiny', seed=0, progress=False)
    return out
