"""`cpuinfer serve` over gRPC, driven by Debian's python3-grpcio with stubs generated here from the
server's .proto (grpc_python_plugin): every call of inference.GRPCInferenceService, inference with
typed contents and raw contents (numbers, BOOL, FP16, BYTES), batching under concurrent clients with
every answer checked against numpy, each error as its gRPC status and message, the call's deadline,
and a cancelled call leaving the queue. The server and models are oip_testing.py's."""
import struct
import threading
import time

import grpc
import numpy as np
import pytest

from oip_testing import RNG, W, Server, add_model, grpc_modules, matmul_relu, pending_after, text_reference

pb, pb_grpc = grpc_modules()
Input = pb.ModelInferRequest.InferInputTensor


@pytest.fixture(scope="module")
def stub(server):
    channel = grpc.insecure_channel(server.grpc_target)
    yield pb_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def parameters(response):
    return {k: getattr(v, v.WhichOneof("parameter_choice")) for k, v in response.parameters.items()}


def raw_output(response, name, dtype):
    for k, o in enumerate(response.outputs):
        if o.name == name:
            return np.frombuffer(response.raw_output_contents[k], dtype).reshape(tuple(o.shape))
    raise KeyError(name)


def test_health_and_metadata(stub):
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready
    meta = stub.ServerMetadata(pb.ServerMetadataRequest())
    assert meta.name == "cpuinfer" and meta.version
    assert stub.ModelReady(pb.ModelReadyRequest(name="mm", version="1")).ready
    m = stub.ModelMetadata(pb.ModelMetadataRequest(name="mm"))
    assert m.name == "mm" and list(m.versions) == ["1", "2"] and m.platform == "onnx"
    assert [(t.name, t.datatype, list(t.shape)) for t in m.inputs] == [("x", "FP32", [-1, 8])]
    assert [(t.name, t.datatype, list(t.shape)) for t in m.outputs] == [("y", "FP32", [-1, 5])]
    t = stub.ModelMetadata(pb.ModelMetadataRequest(name="text"))
    assert [(i.name, i.datatype, list(i.shape)) for i in t.inputs] == [("text", "BYTES", [-1])]


@pytest.mark.parametrize("model", ["mm", "mm_ort"])
@pytest.mark.parametrize("raw", [False, True])
def test_inference_equals_numpy(stub, model, raw):
    x = RNG.standard_normal((3, 8)).astype(np.float32)
    tensor = Input(name="x", datatype="FP32", shape=[3, 8])
    request = pb.ModelInferRequest(model_name=model, id="call-1", inputs=[tensor])
    if raw:
        request.raw_input_contents.append(x.tobytes())
    else:
        request.inputs[0].contents.fp32_contents.extend(x.ravel())
    r = stub.ModelInfer(request)
    assert r.model_name == model and r.id == "call-1" and r.model_version
    assert [(o.name, o.datatype, list(o.shape)) for o in r.outputs] == [("y", "FP32", [3, 5])]
    np.testing.assert_allclose(raw_output(r, "y", np.float32), np.maximum(x @ W, 0), rtol=1e-5, atol=1e-5)
    assert {"queue_us", "compute_us", "batch_size"} <= parameters(r).keys()


def test_raw_int64_bool_fp16_and_a_chosen_output(stub):
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    b = np.array([[True, False], [False, True]])
    c = np.array([[1.5, -2], [0.25, 8]], np.float16)
    request = pb.ModelInferRequest(model_name="mixed", inputs=[Input(name="a", datatype="INT64", shape=[2, 3]),
                                                               Input(name="b", datatype="BOOL", shape=[2, 2]),
                                                               Input(name="c", datatype="FP16", shape=[2, 2])],
                                   outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="c2"),
                                            pb.ModelInferRequest.InferRequestedOutputTensor(name="nb")],
                                   raw_input_contents=[a.tobytes(), b.tobytes(), c.tobytes()])
    r = stub.ModelInfer(request)
    assert [o.name for o in r.outputs] == ["c2", "nb"]
    np.testing.assert_array_equal(raw_output(r, "c2", np.float32), c.astype(np.float32) * 2)
    np.testing.assert_array_equal(raw_output(r, "nb", np.bool_), ~b)
    # Typed contents: INT64 in int64_contents, BOOL in bool_contents; FP16 has no field.
    typed = pb.ModelInferRequest(model_name="mixed", inputs=[
        Input(name="a", datatype="INT64", shape=[1, 3], contents=pb.InferTensorContents(int64_contents=[1, 2, 3])),
        Input(name="b", datatype="BOOL", shape=[1, 2], contents=pb.InferTensorContents(bool_contents=[True, False])),
        Input(name="c", datatype="FP16", shape=[1, 2], contents=pb.InferTensorContents(fp32_contents=[1, 2]))])
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(typed)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details() == "input 'c': FP16 has no contents field; send it in raw_input_contents"


def test_texts_as_bytes_contents_and_raw(stub):
    texts = ["The film was good.", "bad", "films"]
    ids = [[2, 4, 5, 6, 7, 10, 3], [2, 8, 3], [2, 5, 9, 3]]
    typed = stub.ModelInfer(pb.ModelInferRequest(model_name="text", inputs=[
        Input(name="text", datatype="BYTES", shape=[3], contents=pb.InferTensorContents(bytes_contents=[t.encode() for t in texts]))]))
    scores = raw_output(typed, "scores", np.float32)
    for row, i in zip(scores, ids):
        np.testing.assert_allclose(row, text_reference(i), rtol=1e-5, atol=1e-6)
    blob = b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)
    raw = stub.ModelInfer(pb.ModelInferRequest(model_name="text", inputs=[Input(name="text", datatype="BYTES", shape=[3])],
                                               raw_input_contents=[blob]))
    assert raw.raw_output_contents == typed.raw_output_contents


def test_concurrent_calls_are_batched_and_every_answer_is_theirs(stub):
    errors, batch_sizes = [], []

    def client(k):
        for i in range(12):
            x = np.full((1, 8), k + i / 16, np.float32) * np.linspace(-1, 1, 8, dtype=np.float32)
            r = stub.ModelInfer(pb.ModelInferRequest(model_name="mm", id=f"{k}-{i}", inputs=[Input(name="x", datatype="FP32", shape=[1, 8])],
                                                     raw_input_contents=[x.tobytes()]))
            if r.id != f"{k}-{i}" or not np.allclose(raw_output(r, "y", np.float32), np.maximum(x @ W, 0), rtol=1e-5, atol=1e-5):
                errors.append(f"{k}-{i}: wrong answer")
            batch_sizes.append(parameters(r)["batch_size"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors[:3]
    assert len(batch_sizes) == 96 and max(batch_sizes) > 1


X = Input(name="x", datatype="FP32", shape=[1, 8], contents=pb.InferTensorContents(fp32_contents=[0.0] * 8))


@pytest.mark.parametrize("request_, code, message", [
    (pb.ModelInferRequest(model_name="nope", inputs=[X]), grpc.StatusCode.NOT_FOUND, "no model 'nope'"),
    (pb.ModelInferRequest(model_name="mm", model_version="9", inputs=[X]), grpc.StatusCode.NOT_FOUND, "no version 9 of model 'mm'"),
    (pb.ModelInferRequest(model_name="mm"), grpc.StatusCode.INVALID_ARGUMENT, "the request has no inputs"),
    (pb.ModelInferRequest(model_name="mm", inputs=[Input(name="x", datatype="FP64", shape=[1, 8], contents=pb.InferTensorContents(fp64_contents=[0.0] * 8))]),
     grpc.StatusCode.INVALID_ARGUMENT, "input 'x' is FP64, the model takes FP32"),
    (pb.ModelInferRequest(model_name="mm", inputs=[Input(name="x", datatype="FP32", shape=[2, 8], contents=pb.InferTensorContents(fp32_contents=[0.0] * 8))]),
     grpc.StatusCode.INVALID_ARGUMENT, "input 'x': contents.fp32_contents has 8 elements, its shape 2x8 holds 16"),
    (pb.ModelInferRequest(model_name="mm", inputs=[Input(name="x", datatype="FP32", shape=[1, 8])], raw_input_contents=[b"\0" * 16]),
     grpc.StatusCode.INVALID_ARGUMENT, "input 'x': its 16 bytes of binary data are not the 32 bytes of 8 FP32 elements"),
    (pb.ModelInferRequest(model_name="mm", inputs=[X, Input(name="z", datatype="FP32", shape=[1])], raw_input_contents=[b"\0" * 32]),
     grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents has 1 entries for 2 inputs (when used, one per input, in order)"),
    (pb.ModelInferRequest(model_name="mm", inputs=[Input(name="x", datatype="FP17", shape=[1, 8])]),
     grpc.StatusCode.INVALID_ARGUMENT, "input 'x': unknown datatype 'FP17' (BOOL, UINT8-64, INT8-64, FP16, BF16, FP32, FP64 or BYTES)"),
    (pb.ModelInferRequest(model_name="mixed", inputs=[Input(name="a", datatype="INT64", shape=[1, 3], contents=pb.InferTensorContents(int64_contents=[1, 2, 3]))]),
     grpc.StatusCode.INVALID_ARGUMENT, "input 'b' is missing"),
    (pb.ModelInferRequest(model_name="mm", inputs=[X], outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="q")]),
     grpc.StatusCode.INVALID_ARGUMENT, "model 'mm' has no output 'q'"),
    (pb.ModelInferRequest(model_name="text", inputs=[X]), grpc.StatusCode.INVALID_ARGUMENT, "model 'text' takes one BYTES input 'text' (its texts, one per row)"),
    (pb.ModelInferRequest(model_name="mm", inputs=[X], parameters={"timeout": pb.InferParameter(int64_param=1)}),
     grpc.StatusCode.DEADLINE_EXCEEDED, "the request's deadline passed before it was queued"),
], ids=lambda v: "" if not isinstance(v, str) else v[:40])
def test_each_error_is_its_status(stub, request_, code, message):
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(request_)
    assert e.value.code() == code and e.value.details() == message
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelMetadata(pb.ModelMetadataRequest(name="nope"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_message_limits(stub):
    """The fixture's server takes messages up to --max-body-mb 1; answers of any size go out."""
    x = RNG.standard_normal((40000, 8)).astype(np.float32)  # 1.28 MB
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(pb.ModelInferRequest(model_name="mm", inputs=[Input(name="x", datatype="FP32", shape=[40000, 8])],
                                             raw_input_contents=[x.tobytes()]))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    y = RNG.standard_normal((20000, 8)).astype(np.float32)  # 640 kB in, 400 kB out
    r = stub.ModelInfer(pb.ModelInferRequest(model_name="mm", inputs=[Input(name="x", datatype="FP32", shape=[20000, 8])],
                                             raw_input_contents=[y.tobytes()]))
    np.testing.assert_allclose(raw_output(r, "y", np.float32), np.maximum(y @ W, 0), rtol=1e-4, atol=1e-4)


def test_the_calls_deadline_and_a_cancelled_call(tmp_path):
    root = str(tmp_path / "repo")
    # A 10 s batching delay keeps a request queued.
    add_model(root, "mm", matmul_relu(), {"backend": "native", "max_batch_size": 64, "max_queue_delay_us": 10000000})
    s = Server(root)
    try:
        channel = grpc.insecure_channel(s.grpc_target)
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        request = pb.ModelInferRequest(model_name="mm", inputs=[X])
        start = time.time()
        with pytest.raises(grpc.RpcError) as e:
            stub.ModelInfer(request, timeout=0.3)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and time.time() - start < 5
        future = stub.ModelInfer.future(request)
        assert pending_after(s, "mm", 1, 30) == 1
        future.cancel()
        assert pending_after(s, "mm", 0, 5) == 0  # out of the queue at once, not after the 10 s delay
        channel.close()
    finally:
        assert s.stop() == 0


def test_a_grpc_port_in_use_is_one_line(server, repo):
    """gRPC shares a port by default (SO_REUSEPORT): a second server must refuse it instead."""
    import subprocess
    from oip_testing import BINARY
    port = server.grpc_target.rsplit(":", 1)[1]
    p = subprocess.run([BINARY, "serve", "--model-repository", repo, "--http-port", "0", "--grpc-port", port],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    errors = [line for line in p.stderr.splitlines() if "level=info" not in line]
    assert errors == [f"cpuinfer: error: gRPC: cannot listen on 127.0.0.1:{port} (in use, or not an address of this machine)"], p.stderr
