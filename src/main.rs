//! Thin entry point: the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, else the CLI.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_runtime::tracing::init_default_subscriber();
        match ecs_cost_saver::lambda::run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "the runtime stopped");
                ExitCode::FAILURE
            }
        }
    } else {
        lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
        ecs_cost_saver::cli::main().await
    }
}
