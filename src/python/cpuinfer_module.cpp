// `import cpuinfer`: the engine with onnxruntime's call shape, so a script written for
// onnxruntime.InferenceSession switches with one line:
//   s = cpuinfer.InferenceSession("model.onnx", threads=1, precision="f32")
//   s.get_inputs()[0].name, .shape, .type; s.get_outputs()
//   s.run(None or [output names], {name: numpy array}) -> [numpy arrays]
// One InferenceSession is safe to share between Python threads, as ORT's is: each run takes a
// cpuinfer::Session of its own from a pool (the model's weights are shared) and releases the GIL
// while it runs. Contiguous arrays are read in place; outputs are read-only arrays over the run's
// own storage (no copy). Bad input is one line: cpuinfer.Error (a RuntimeError; cpuinfer.Unsupported
// for what cpuinfer lacks) for what the model refuses (a wrong type, rank or size, an unknown or
// missing input name), TypeError for what is not an array of a numeric type.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cpuinfer/cpuinfer.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace cpuinfer {
namespace {

struct TypeNames {
  ElementType type;
  const char* numpy;  // numpy's dtype name
  const char* onnx;   // ORT's NodeArg.type
};
constexpr TypeNames kTypes[] = {
    {ElementType::float32, "float32", "tensor(float)"},     {ElementType::float64, "float64", "tensor(double)"},
    {ElementType::float16, "float16", "tensor(float16)"},   {ElementType::int8, "int8", "tensor(int8)"},
    {ElementType::uint8, "uint8", "tensor(uint8)"},         {ElementType::int16, "int16", "tensor(int16)"},
    {ElementType::uint16, "uint16", "tensor(uint16)"},      {ElementType::int32, "int32", "tensor(int32)"},
    {ElementType::uint32, "uint32", "tensor(uint32)"},      {ElementType::int64, "int64", "tensor(int64)"},
    {ElementType::uint64, "uint64", "tensor(uint64)"},      {ElementType::boolean, "bool", "tensor(bool)"},
};

const TypeNames* names_of(ElementType type) {
  for (const TypeNames& t : kTypes)
    if (t.type == type) return &t;
  return nullptr;  // bfloat16: numpy has none
}

// ORT's NodeArg: name, shape (ints, symbol names for open dimensions, None where unnamed), type.
struct NodeArg {
  std::string name;
  py::object shape;
  std::string type;
};

NodeArg node_arg(const TensorInfo& info) {
  NodeArg a{info.name, py::none(), "tensor(unknown)"};
  if (info.type_known) {
    const TypeNames* t = names_of(info.type);
    a.type = t ? t->onnx : "tensor(" + element_type_name(info.type) + ")";
  }
  if (info.shape_known) {
    py::list dims;
    for (std::size_t d = 0; d < info.shape.size(); ++d) {
      if (info.shape[d] >= 0) dims.append(info.shape[d]);
      else if (!info.symbols[d].empty()) dims.append(info.symbols[d]);
      else dims.append(py::none());
    }
    a.shape = dims;
  }
  return a;
}

class InferenceSession {
 public:
  InferenceSession(const std::string& path, int threads, const std::string& precision, std::size_t max_tensor_bytes)
      : model_(load(path, threads, precision, max_tensor_bytes)) {}

  std::vector<NodeArg> get_inputs() const { return args(model_.inputs()); }
  std::vector<NodeArg> get_outputs() const { return args(model_.outputs()); }

  py::list run(const std::optional<std::vector<std::string>>& output_names, const py::dict& feeds) {
    std::vector<py::array> arrays;  // alive, and the GIL's objects untouched, while the run reads them
    std::vector<std::pair<std::string, TensorView>> inputs;
    for (const auto& [key, value] : feeds) {
      const std::string name = py::str(key);
      if (!py::isinstance<py::array>(value))
        throw py::type_error("input '" + name + "' is a " + std::string(py::str(value.get_type().attr("__name__"))) +
                             ", not a numpy array");
      py::array a = py::array::ensure(value, py::array::c_style);  // a copy only when not contiguous
      const ElementType type = element_type(a, name);
      std::vector<std::int64_t> shape(a.shape(), a.shape() + a.ndim());
      inputs.emplace_back(name, TensorView{type, std::move(shape), a.data()});
      arrays.push_back(std::move(a));
    }
    const std::vector<std::string> wanted = output_names.value_or(std::vector<std::string>{});
    std::unique_ptr<Session> session = take();
    std::vector<Output> outputs;
    {
      py::gil_scoped_release release;
      try {
        outputs = session->run(inputs, wanted);
      } catch (...) {
        give_back(std::move(session));
        throw;
      }
    }
    give_back(std::move(session));
    py::list result;
    for (Output& o : outputs) result.append(to_numpy(std::move(o)));
    return result;
  }

 private:
  static Model load(const std::string& path, int threads, const std::string& precision, std::size_t max_tensor_bytes) {
    Options o;
    o.threads = threads;
    o.max_tensor_bytes = max_tensor_bytes;
    if (precision == "f32" || precision == "float32") o.precision = Precision::f32;
    else if (precision == "bf16" || precision == "bfloat16") o.precision = Precision::bf16;
    else if (precision == "int8") o.precision = Precision::int8;
    else throw py::value_error("precision '" + precision + "': f32, bf16 or int8");
    py::gil_scoped_release release;
    return Model(path, o);
  }

  static std::vector<NodeArg> args(const std::vector<TensorInfo>& infos) {
    std::vector<NodeArg> v;
    for (const TensorInfo& i : infos) v.push_back(node_arg(i));
    return v;
  }

  static ElementType element_type(const py::array& a, const std::string& name) {
    const std::string numpy = py::str(a.dtype().attr("name"));
    for (const TypeNames& t : kTypes)
      if (numpy == t.numpy) return t.type;
    throw py::type_error("input '" + name + "' has numpy type " + numpy + ", which no ONNX tensor type matches");
  }

  // A read-only array over the output's storage, which the array's base keeps alive.
  static py::array to_numpy(Output o) {
    const TypeNames* t = names_of(o.type());
    if (!t) throw Unsupported("an output of type " + element_type_name(o.type()) + ", which numpy lacks");
    const py::dtype dtype(t->numpy);
    const std::vector<py::ssize_t> shape(o.shape().begin(), o.shape().end());
    const void* data = o.data();
    auto* owner = new Output(std::move(o));
    py::capsule base(owner, [](void* p) { delete static_cast<Output*>(p); });
    py::array a(dtype, shape, data, base);
    a.attr("setflags")(py::arg("write") = false);
    return a;
  }

  std::unique_ptr<Session> take() {
    {
      const std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<Session> s = std::move(idle_.back());
        idle_.pop_back();
        return s;
      }
    }
    return std::make_unique<Session>(model_);
  }
  void give_back(std::unique_ptr<Session> s) {
    const std::lock_guard lock(mutex_);
    idle_.push_back(std::move(s));
  }

  Model model_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Session>> idle_;  // sessions between runs
};

}  // namespace
}  // namespace cpuinfer

PYBIND11_MODULE(cpuinfer, m) {
  using namespace cpuinfer;
  m.doc() = "cpuinfer's engine with onnxruntime's InferenceSession call shape";
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<Unsupported> unsupported(m, "Unsupported", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Unsupported& e) {
      unsupported(e.what());
    } catch (const Error& e) {
      error(e.what());
    }
  });
  py::class_<NodeArg>(m, "NodeArg")
      .def_readonly("name", &NodeArg::name)
      .def_readonly("shape", &NodeArg::shape)
      .def_readonly("type", &NodeArg::type)
      .def("__repr__", [](const NodeArg& a) {
        return "NodeArg(name='" + a.name + "', type='" + a.type + "', shape=" + std::string(py::repr(a.shape)) + ")";
      });
  py::class_<InferenceSession>(m, "InferenceSession")
      .def(py::init<const std::string&, int, const std::string&, std::size_t>(), py::arg("path"), py::arg("threads") = 0,
           py::arg("precision") = "f32", py::arg("max_tensor_bytes") = 0,
           "Loads an ONNX model. threads: intra-op threads per run (0: every usable core); precision: f32, bf16 or int8; "
           "max_tensor_bytes: the largest input or computed tensor a run may take or make (0: the engine's 8 GiB).")
      .def("get_inputs", &InferenceSession::get_inputs)
      .def("get_outputs", &InferenceSession::get_outputs)
      .def("run", &InferenceSession::run, py::arg("output_names"), py::arg("input_feed"),
           "Runs the model on {name: numpy array}; returns the outputs named (None: all) as read-only arrays.");
  m.attr("__version__") = CPUINFER_VERSION;
  m.def("engine_version", &Model::engine_version);
}
