"""The synthetic video world: procedural clips with known defects, simulated annotators and an oracle.

Public API (pure Python: numpy, scipy, PyAV):
- prompts: `PromptAttrs`, `parse_prompt`, `sample_prompts`
- defects: `Defects`, `VQ_DEFECTS`, `MQ_DEFECTS`, `TA_DEFECTS`, `CHECKLIST_KEY`
- rendering: `render_frames` (uint8 T×H×W×3), `render_video` (encoded bytes, or a file when `path` is given),
  `decode_video`
- oracle: `oracle_utilities`, `oracle_preference`, `oracle_accuracy`
- annotators: `ANNOTATOR_TYPES`, `decide`, `btt_probabilities`
- generators: `GENERATORS`
- datasets: `make_dataset` (+ `DatasetConfig`), `read_oracle` (oracle.csv keyed by video sha256)
- analysis: `analyse` (file, bytes or frames), `analyse_frames` (uint8 T×H×W×3) -> `Analysis`
"""

from synthetic.analyser import Analysis, analyse, analyse_frames
from synthetic.annotators import ANNOTATOR_TYPES, AnnotatorProfile, ShownVideo, btt_probabilities, decide
from synthetic.dataset import DatasetConfig, make_dataset, read_oracle
from synthetic.defects import CHECKLIST_KEY, DEFECT_NAMES, MQ_DEFECTS, TA_DEFECTS, VQ_DEFECTS, Defects
from synthetic.encode import DecodedVideo, decode_video, encode_frames
from synthetic.generators import GENERATORS, GeneratorProfile
from synthetic.oracle import oracle_accuracy, oracle_preference, oracle_utilities
from synthetic.prompts import PromptAttrs, parse_prompt, sample_prompts
from synthetic.render import RenderConfig, render_frames
from synthetic.video import render_video

__all__ = [
    "ANNOTATOR_TYPES", "Analysis", "DatasetConfig", "analyse", "analyse_frames", "make_dataset", "read_oracle", "AnnotatorProfile", "CHECKLIST_KEY", "DEFECT_NAMES", "DecodedVideo", "Defects",
    "GENERATORS", "GeneratorProfile", "MQ_DEFECTS", "PromptAttrs", "RenderConfig", "ShownVideo", "TA_DEFECTS",
    "VQ_DEFECTS", "btt_probabilities", "decide", "decode_video", "encode_frames", "oracle_accuracy",
    "oracle_preference", "oracle_utilities", "parse_prompt", "render_frames", "render_video", "sample_prompts",
]
