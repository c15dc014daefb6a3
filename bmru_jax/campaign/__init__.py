"""Monte Carlo noise campaigns: many dies and noise streams, chunked into a store.

    config = load_config("campaign.toml")        # or default_config()
    summary = run_campaign(config, "runs/noise") # resumable; workers=2 for Dask
    write_report("runs/noise")                   # summary.json and figures again

See ``bmru_jax/campaign/default.toml`` for the settings.
"""

from bmru_jax.campaign.config import CampaignConfig as CampaignConfig
from bmru_jax.campaign.config import default_config as default_config
from bmru_jax.campaign.config import default_config_text as default_config_text
from bmru_jax.campaign.config import load_config as load_config
from bmru_jax.campaign.config import parse_config as parse_config
from bmru_jax.campaign.evaluate import ChunkEvaluator as ChunkEvaluator
from bmru_jax.campaign.evaluate import nominal_reference as nominal_reference
from bmru_jax.campaign.inputs import CampaignInputs as CampaignInputs
from bmru_jax.campaign.inputs import load_inputs as load_inputs
from bmru_jax.campaign.plan import Chunk as Chunk
from bmru_jax.campaign.plan import plan_chunks as plan_chunks
from bmru_jax.campaign.report import write_report as write_report
from bmru_jax.campaign.runner import run_campaign as run_campaign
from bmru_jax.campaign.store import open_results as open_results
