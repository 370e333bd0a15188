from tuneforge.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Hyperparameters(_message.Message):
    __slots__ = ("n_epochs", "batch_size", "learning_rate", "zero_stage", "model_max_length", "num_gpus", "lr_scheduler_type", "warmup_ratio", "weight_decay", "max_grad_norm", "lora_r", "logging_steps", "packing", "learning_rate_multiplier", "adam_beta1", "adam_beta2", "adam_epsilon", "gradient_accumulation_steps", "per_device_train_batch_size", "gradient_checkpointing", "bf16", "tf32", "save_strategy", "save_steps", "save_total_limit", "lora_alpha", "lora_dropout", "lora_target_modules", "offload_optimizer", "offload_param", "num_nodes")
    N_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    ZERO_STAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    NUM_GPUS_FIELD_NUMBER: _ClassVar[int]
    LR_SCHEDULER_TYPE_FIELD_NUMBER: _ClassVar[int]
    WARMUP_RATIO_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    MAX_GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    LORA_R_FIELD_NUMBER: _ClassVar[int]
    LOGGING_STEPS_FIELD_NUMBER: _ClassVar[int]
    PACKING_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    ADAM_BETA1_FIELD_NUMBER: _ClassVar[int]
    ADAM_BETA2_FIELD_NUMBER: _ClassVar[int]
    ADAM_EPSILON_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_ACCUMULATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    PER_DEVICE_TRAIN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_CHECKPOINTING_FIELD_NUMBER: _ClassVar[int]
    BF16_FIELD_NUMBER: _ClassVar[int]
    TF32_FIELD_NUMBER: _ClassVar[int]
    SAVE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SAVE_STEPS_FIELD_NUMBER: _ClassVar[int]
    SAVE_TOTAL_LIMIT_FIELD_NUMBER: _ClassVar[int]
    LORA_ALPHA_FIELD_NUMBER: _ClassVar[int]
    LORA_DROPOUT_FIELD_NUMBER: _ClassVar[int]
    LORA_TARGET_MODULES_FIELD_NUMBER: _ClassVar[int]
    OFFLOAD_OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    OFFLOAD_PARAM_FIELD_NUMBER: _ClassVar[int]
    NUM_NODES_FIELD_NUMBER: _ClassVar[int]
    n_epochs: int
    batch_size: int
    learning_rate: float
    zero_stage: int
    model_max_length: int
    num_gpus: int
    lr_scheduler_type: str
    warmup_ratio: float
    weight_decay: float
    max_grad_norm: float
    lora_r: int
    logging_steps: int
    packing: bool
    learning_rate_multiplier: float
    adam_beta1: float
    adam_beta2: float
    adam_epsilon: float
    gradient_accumulation_steps: int
    per_device_train_batch_size: int
    gradient_checkpointing: bool
    bf16: bool
    tf32: bool
    save_strategy: str
    save_steps: int
    save_total_limit: int
    lora_alpha: int
    lora_dropout: float
    lora_target_modules: str
    offload_optimizer: bool
    offload_param: bool
    num_nodes: int
    def __init__(self, n_epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., learning_rate: _Optional[float] = ..., zero_stage: _Optional[int] = ..., model_max_length: _Optional[int] = ..., num_gpus: _Optional[int] = ..., lr_scheduler_type: _Optional[str] = ..., warmup_ratio: _Optional[float] = ..., weight_decay: _Optional[float] = ..., max_grad_norm: _Optional[float] = ..., lora_r: _Optional[int] = ..., logging_steps: _Optional[int] = ..., packing: _Optional[bool] = ..., learning_rate_multiplier: _Optional[float] = ..., adam_beta1: _Optional[float] = ..., adam_beta2: _Optional[float] = ..., adam_epsilon: _Optional[float] = ..., gradient_accumulation_steps: _Optional[int] = ..., per_device_train_batch_size: _Optional[int] = ..., gradient_checkpointing: _Optional[bool] = ..., bf16: _Optional[bool] = ..., tf32: _Optional[bool] = ..., save_strategy: _Optional[str] = ..., save_steps: _Optional[int] = ..., save_total_limit: _Optional[int] = ..., lora_alpha: _Optional[int] = ..., lora_dropout: _Optional[float] = ..., lora_target_modules: _Optional[str] = ..., offload_optimizer: _Optional[bool] = ..., offload_param: _Optional[bool] = ..., num_nodes: _Optional[int] = ...) -> None: ...

class CreateJobRequest(_message.Message):
    __slots__ = ("model", "training_file", "validation_file", "suffix", "hyperparameters", "seed", "metadata", "eval_prompts", "auto_deploy", "alias")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FILE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FILE_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EVAL_PROMPTS_FIELD_NUMBER: _ClassVar[int]
    AUTO_DEPLOY_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    model: str
    training_file: str
    validation_file: str
    suffix: str
    hyperparameters: Hyperparameters
    seed: int
    metadata: _containers.ScalarMap[str, str]
    eval_prompts: _containers.RepeatedScalarFieldContainer[str]
    auto_deploy: bool
    alias: str
    def __init__(self, model: _Optional[str] = ..., training_file: _Optional[str] = ..., validation_file: _Optional[str] = ..., suffix: _Optional[str] = ..., hyperparameters: _Optional[_Union[Hyperparameters, _Mapping]] = ..., seed: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., eval_prompts: _Optional[_Iterable[str]] = ..., auto_deploy: _Optional[bool] = ..., alias: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "model", "training_file", "validation_file", "suffix", "status", "fine_tuned_model", "created_at", "finished_at", "error", "hyperparameters", "seed", "trained_tokens", "metadata", "eval_prompts", "evaluation", "auto_deploy", "alias", "deployment", "estimated_finish", "step", "total_steps")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FILE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FILE_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINE_TUNED_MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TRAINED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EVAL_PROMPTS_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    AUTO_DEPLOY_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_FINISH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    training_file: str
    validation_file: str
    suffix: str
    status: str
    fine_tuned_model: str
    created_at: int
    finished_at: int
    error: _common_pb2.Error
    hyperparameters: Hyperparameters
    seed: int
    trained_tokens: int
    metadata: _containers.ScalarMap[str, str]
    eval_prompts: _containers.RepeatedScalarFieldContainer[str]
    evaluation: Evaluation
    auto_deploy: bool
    alias: str
    deployment: str
    estimated_finish: int
    step: int
    total_steps: int
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., training_file: _Optional[str] = ..., validation_file: _Optional[str] = ..., suffix: _Optional[str] = ..., status: _Optional[str] = ..., fine_tuned_model: _Optional[str] = ..., created_at: _Optional[int] = ..., finished_at: _Optional[int] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ..., hyperparameters: _Optional[_Union[Hyperparameters, _Mapping]] = ..., seed: _Optional[int] = ..., trained_tokens: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., eval_prompts: _Optional[_Iterable[str]] = ..., evaluation: _Optional[_Union[Evaluation, _Mapping]] = ..., auto_deploy: _Optional[bool] = ..., alias: _Optional[str] = ..., deployment: _Optional[str] = ..., estimated_finish: _Optional[int] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("prompt", "base", "fine_tuned")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    FINE_TUNED_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    base: str
    fine_tuned: str
    def __init__(self, prompt: _Optional[str] = ..., base: _Optional[str] = ..., fine_tuned: _Optional[str] = ...) -> None: ...

class Evaluation(_message.Message):
    __slots__ = ("metrics", "comparisons")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    METRICS_FIELD_NUMBER: _ClassVar[int]
    COMPARISONS_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.ScalarMap[str, float]
    comparisons: _containers.RepeatedCompositeFieldContainer[Comparison]
    def __init__(self, metrics: _Optional[_Mapping[str, float]] = ..., comparisons: _Optional[_Iterable[_Union[Comparison, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit", "after", "status", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    status: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ..., status: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("data", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Job]
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("id", "created_at", "level", "message", "type", "data_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: int
    level: str
    message: str
    type: str
    data_json: str
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[int] = ..., level: _Optional[str] = ..., message: _Optional[str] = ..., type: _Optional[str] = ..., data_json: _Optional[str] = ...) -> None: ...

class ListJobEventsRequest(_message.Message):
    __slots__ = ("job_id", "limit", "after")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    limit: int
    after: str
    def __init__(self, job_id: _Optional[str] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListJobEventsResponse(_message.Message):
    __slots__ = ("data", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[JobEvent]
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[JobEvent, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class PauseJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ResumeJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("id", "created_at", "fine_tuned_model_checkpoint", "step_number", "metrics", "job_id")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINE_TUNED_MODEL_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    STEP_NUMBER_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    step_number: int
    metrics: _containers.ScalarMap[str, float]
    job_id: str
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[int] = ..., fine_tuned_model_checkpoint: _Optional[str] = ..., step_number: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., job_id: _Optional[str] = ...) -> None: ...

class ListJobCheckpointsRequest(_message.Message):
    __slots__ = ("job_id", "limit", "after")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    limit: int
    after: str
    def __init__(self, job_id: _Optional[str] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListJobCheckpointsResponse(_message.Message):
    __slots__ = ("data", "has_more")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    has_more: bool
    def __init__(self, data: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class WatchJobEventsRequest(_message.Message):
    __slots__ = ("job_id", "after")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after: str
    def __init__(self, job_id: _Optional[str] = ..., after: _Optional[str] = ...) -> None: ...

class MemoryEstimate(_message.Message):
    __slots__ = ("fits", "per_device_gib", "device_gib", "cpu_offload_gib", "breakdown_gib", "suggestion", "num_parameters", "trainable_parameters")
    class BreakdownGibEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    FITS_FIELD_NUMBER: _ClassVar[int]
    PER_DEVICE_GIB_FIELD_NUMBER: _ClassVar[int]
    DEVICE_GIB_FIELD_NUMBER: _ClassVar[int]
    CPU_OFFLOAD_GIB_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_GIB_FIELD_NUMBER: _ClassVar[int]
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    NUM_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    fits: bool
    per_device_gib: float
    device_gib: float
    cpu_offload_gib: float
    breakdown_gib: _containers.ScalarMap[str, float]
    suggestion: str
    num_parameters: int
    trainable_parameters: int
    def __init__(self, fits: _Optional[bool] = ..., per_device_gib: _Optional[float] = ..., device_gib: _Optional[float] = ..., cpu_offload_gib: _Optional[float] = ..., breakdown_gib: _Optional[_Mapping[str, float]] = ..., suggestion: _Optional[str] = ..., num_parameters: _Optional[int] = ..., trainable_parameters: _Optional[int] = ...) -> None: ...

class GetJobLogsRequest(_message.Message):
    __slots__ = ("job_id", "tail_lines")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TAIL_LINES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    tail_lines: int
    def __init__(self, job_id: _Optional[str] = ..., tail_lines: _Optional[int] = ...) -> None: ...

class JobLogs(_message.Message):
    __slots__ = ("job_id", "text", "truncated")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    text: str
    truncated: bool
    def __init__(self, job_id: _Optional[str] = ..., text: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Agent(_message.Message):
    __slots__ = ("id", "started_at", "seen_at", "gpus", "gpu_memory_gib", "host_memory_gib", "cpu_count", "bf16", "max_ranks", "max_jobs", "running")
    ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    GPU_MEMORY_GIB_FIELD_NUMBER: _ClassVar[int]
    HOST_MEMORY_GIB_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    BF16_FIELD_NUMBER: _ClassVar[int]
    MAX_RANKS_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    id: str
    started_at: int
    seen_at: int
    gpus: int
    gpu_memory_gib: float
    host_memory_gib: float
    cpu_count: int
    bf16: bool
    max_ranks: int
    max_jobs: int
    running: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., started_at: _Optional[int] = ..., seen_at: _Optional[int] = ..., gpus: _Optional[int] = ..., gpu_memory_gib: _Optional[float] = ..., host_memory_gib: _Optional[float] = ..., cpu_count: _Optional[int] = ..., bf16: _Optional[bool] = ..., max_ranks: _Optional[int] = ..., max_jobs: _Optional[int] = ..., running: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Agent]
    def __init__(self, data: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ...) -> None: ...
