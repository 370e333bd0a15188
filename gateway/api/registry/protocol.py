"""Wire types of /v1/registry: the full model record, registration, merge and aliases."""

import json
from typing import Literal

from pydantic import BaseModel, Field

from gateway.api.models.protocol import ModelObject
from tuneforge.v1 import registry_pb2 as pb


class ServingSpec(BaseModel):
    chat_template: str = Field(description="The exact Jinja source chat requests render with.")
    stop_token_ids: list[int] = Field(description="Generation ends at any of these token ids.")
    generation_config: dict = Field(description="generation_config.json as stored.")
    tokenizer_sha256: str = Field(description="Hash of the tokenizer files.")


class RoundTripCheck(BaseModel):
    passed: bool = Field(description="Serving renders the token ids training used.")
    source: str = Field(description="Where the examples came from: request, training_file or "
                                    "probe.")
    examples_checked: int = Field(description="Conversations rendered.")
    message: str = Field(description="Why it failed, naming the example and turn.")


class RecordError(BaseModel):
    code: str = Field(description="TuneForge error code.")
    message: str = Field(description="Why the model is not served.")
    param: str = Field(description="What is at fault, e.g. chat_template.")


class ModelRecord(ModelObject):
    """Everything the registry knows about one model version."""

    artifact_prefix: str = Field(description="Folder of its files in the artifact store.")
    dtype: str = Field(description="Weight precision, e.g. float32.")
    size_bytes: int = Field(description="Size of all its files.")
    checkpoint_step: int = Field(description="N of an intermediate ckpt-step-N model, else 0.")
    serving: ServingSpec = Field(description="What the inference service serves it with.")
    round_trip: RoundTripCheck = Field(description="The check run at registration.")
    error: RecordError | None = Field(default=None, description="Why status is failed.")

    @classmethod
    def from_pb(cls, m: pb.Model) -> "ModelRecord":
        s = m.serving
        return cls(
            **cls.fields_from_pb(m), artifact_prefix=m.artifact_prefix, dtype=m.dtype,
            size_bytes=m.size_bytes, checkpoint_step=m.checkpoint_step,
            serving=ServingSpec(chat_template=s.chat_template,
                                stop_token_ids=list(s.stop_token_ids),
                                generation_config=json.loads(s.generation_config_json or "{}"),
                                tokenizer_sha256=s.tokenizer_sha256),
            round_trip=RoundTripCheck(passed=m.round_trip.passed, source=m.round_trip.source,
                                      examples_checked=m.round_trip.examples_checked,
                                      message=m.round_trip.message),
            error=RecordError(code=m.error.code, message=m.error.message, param=m.error.param)
            if m.error.code else None)


class RegisterModel(BaseModel):
    id: str = Field(description="Name clients will send as `model`, e.g. Qwen/Qwen2.5-0.5B.")
    source: str = Field(description="Where to copy it from: a directory on the registry's host "
                                    "(under its import_dirs), s3://bucket/prefix, or "
                                    "hf://org/name[@revision].")
    kind: Literal["base", "fine-tuned"] = Field(default="base", description="base, or "
                                                "fine-tuned for an adapter or a tuned model.")
    parent: str | None = Field(default=None, description="The base of a fine-tuned model.")
    name: str | None = Field(default=None, description="Name its versions share; default id.")


class MergeAdapter(BaseModel):
    new_id: str | None = Field(default=None, description="Id of the merged model; default "
                                                         "`<adapter id>:merged`.")


class SetAlias(BaseModel):
    model: str = Field(description="The version to point at: its id or `<name>@<version>`.")


class AliasObject(BaseModel):
    object: Literal["model.alias"] = "model.alias"
    name: str = Field(description="Model name the alias belongs to.")
    alias: str = Field(description="e.g. production; send `<name>@<alias>` as model.")
    model: str | None = Field(description="Version it points at; null once deleted.")
    version: int = Field(description="That version's number; 0 once deleted.")
    previous_model: str | None = Field(description="Where it pointed before; null if new.")
    updated_at: int = Field(description="Unix seconds.")

    @classmethod
    def from_pb(cls, a: pb.Alias) -> "AliasObject":
        return cls(name=a.name, alias=a.alias, model=a.model or None, version=a.version,
                   previous_model=a.previous_model or None, updated_at=a.updated_at)
