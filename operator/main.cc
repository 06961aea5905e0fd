// cohort-operator: the controller runtime's process (operator/app.h) with cohort's reconcilers.
#include <memory>

#include "controllers/pipeline_controller.h"
#include "operator/app.h"

int main(int argc, char** argv) {
  cohort::controllers::OperatorConfig config;
  std::unique_ptr<cohort::controllers::PipelineController> pipelines;

  cohort::op::OperatorProgram program;
  program.name = "cohort-operator";
  program.description =
      "Reconciles cohort.dev AnalyticsPipelines: product analytics for LLM apps on Kubernetes.";
  program.reporting_controller = "cohort.dev/cohort-operator";
  program.add_flags = [&](cohort::FlagSet& flags) {
    flags.Add("ingest-image", &config.default_image,
              "The cohort-ingest image of pipelines that do not set spec.image.");
    flags.Add("progress-deadline", &config.progress_deadline,
              "A pipeline rollout not finished after this long makes the pipeline Degraded.");
  };
  program.setup = [&](cohort::op::OperatorContext& context) -> absl::Status {
    config.operator_namespace = context.operator_namespace;
    absl::StatusOr<std::unique_ptr<cohort::controllers::PipelineController>> registered =
        cohort::controllers::PipelineController::Register(context, config);
    if (!registered.ok()) return registered.status();
    pipelines = *std::move(registered);
    return absl::OkStatus();
  };
  return cohort::op::RunOperator(argc, argv, program);
}
