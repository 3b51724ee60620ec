"""The main job: a trained DNN to a verified, lean network on Lava, every stage registered.

    from leanspike.app.pipeline import load_config, run_pipeline
    result = run_pipeline(load_config(quick=True), Registry("registry"))
"""

from leanspike.app.pipeline.config import PipelineConfig, dump_config, load_config
from leanspike.app.pipeline.run import PipelineResult, StageRecord, run_pipeline, write_summary

__all__ = ["PipelineConfig", "PipelineResult", "StageRecord", "dump_config", "load_config",
           "run_pipeline", "write_summary"]
