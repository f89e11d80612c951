import os, pytest
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

@pytest.fixture(scope='session')
def tiny_base():
    "A tiny base model, trained once and cached (`ca_nb.sft.cached_base`), or the folder in $CA_NB_TINY."
    if os.environ.get('CA_NB_TINY'): return os.environ['CA_NB_TINY']
    from ca_nb.sft import cached_base
    return cached_base()
