// `cpuinfer serve`: a model repository (or the study's two models) behind the Open Inference
// Protocol over REST and gRPC (serve/server/inference_server.h), until SIGTERM or SIGINT, which stop
// admission, drain the queues and exit 0. Logs go to stderr as key=value lines (spdlog).
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/paths.h"
#include "serve/repository/model_repository.h"
#include "serve/server/inference_server.h"

namespace cpuinfer {

namespace {

struct ServeArgs {
  std::string repository;
  serve::ServerOptions options;
  std::size_t max_body_mb = 256;
};

int serve_models(ServeArgs& a) {
  // Every thread the server starts inherits this mask: the signals wait for this thread's sigwait.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto log = spdlog::stderr_logger_mt("serve");
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e level=%l %v");
  a.options.max_body_bytes = a.max_body_mb << 20;
  const std::vector<serve::RepositoryModel> models =
      a.repository.empty() ? serve::study_models(default_cache_dir()) : serve::read_model_repository(a.repository);
  if (a.repository.empty())
    log->info("event=default_repository models=resnet101,bert weights=seeded-random note=\"accuracy is meaningless, speed and agreement are not\"");
  serve::InferenceServer server(models, a.options);
  for (const std::string& line : server.summary()) log->info("event=model_ready {}", line);
  log->info("event=listening http={}:{} grpc={}:{}", a.options.host, server.http_port(), a.options.host, server.grpc_port());
  log->flush();
  int signal = 0;
  sigwait(&stop, &signal);
  log->info("event=draining signal={}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  server.shutdown();
  log->info("event=stopped");
  log->flush();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve models over KServe's Open Inference Protocol (REST and gRPC), with dynamic batching");
  cmd->add_option("--model-repository", args->repository,
                  "Repository: <repo>/<model>/config.json and <repo>/<model>/<version>/model.onnx (default: the study's "
                  "resnet101 and bert from the export cache)")->check(CLI::ExistingDirectory);
  cmd->add_option("--host", args->options.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  cmd->add_option("--http-port", args->options.http_port, "REST port (0: any free port, logged)")->capture_default_str();
  cmd->add_option("--grpc-port", args->options.grpc_port, "gRPC port (0: any free port, logged)")->capture_default_str();
  cmd->add_option("--http-threads", args->options.http_threads, "Threads reading and writing connections")->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--max-body-mb", args->max_body_mb, "Largest request body, MiB (larger: 400)")->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
  cmd->add_option("--cores", args->options.cores, "Cores the models' instances share (0: every usable core)")->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->callback([args, &exit_code] { exit_code = serve_models(*args); });
}

}  // namespace cpuinfer
