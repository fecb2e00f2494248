// launch: starts one training process per device on this node, the way
// torchrun does, and supervises them.
//
// Usage:
//   launch --nproc_per_node=2 -- bazel-bin/trainer/train --data_dir=... ...
//   # node 1 of 2 (another machine runs --node_rank=0):
//   launch --nproc_per_node=4 --nnodes=2 --node_rank=1
//          --master_addr=10.0.0.5 --master_port=29500 --
//          /opt/retrieval/bin/train ...
//
// Each child gets RANK = node_rank * nproc_per_node + i, LOCAL_RANK = i,
// WORLD_SIZE = nnodes * nproc_per_node, LOCAL_WORLD_SIZE = nproc_per_node,
// MASTER_ADDR and MASTER_PORT. When a child fails, the others are sent
// SIGTERM (then SIGKILL after --kill_timeout_s) and launch exits with the
// first failure's code. SIGINT/SIGTERM to launch are forwarded to the
// children.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/exit_code.h"

ABSL_FLAG(int, nproc_per_node, 1, "Processes to start on this node.");
ABSL_FLAG(int, nnodes, 1, "Nodes in the job.");
ABSL_FLAG(int, node_rank, 0, "This node's index in [0, nnodes).");
ABSL_FLAG(std::string, master_addr, "127.0.0.1",
          "Address of rank 0's node (hosts the rendezvous store).");
ABSL_FLAG(int, master_port, 29500, "Port of the rendezvous store.");
ABSL_FLAG(int, kill_timeout_s, 10,
          "Seconds between SIGTERM and SIGKILL for the surviving children "
          "after a failure.");

namespace {

volatile sig_atomic_t g_signal = 0;
void OnSignal(int sig) { g_signal = sig; }

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = common::ParseFlagsOrExit(
      argc, argv,
      "Starts N training processes with torchrun-style environment variables.\n"
      "  launch [flags] -- PROGRAM [ARGS...]");
  if (rest.size() < 2) {
    std::fprintf(stderr, "launch: give the program after --\n");
    return common::kExitUsage;
  }
  const int nproc = absl::GetFlag(FLAGS_nproc_per_node);
  const int nnodes = absl::GetFlag(FLAGS_nnodes);
  const int node_rank = absl::GetFlag(FLAGS_node_rank);
  const int port = absl::GetFlag(FLAGS_master_port);
  if (nproc < 1 || nnodes < 1 || node_rank < 0 || node_rank >= nnodes ||
      port < 1 || port > 65535) {
    std::fprintf(stderr,
                 "launch: need nproc_per_node >= 1, nnodes >= 1, 0 <= "
                 "node_rank < nnodes, 1 <= master_port <= 65535\n");
    return common::kExitUsage;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<pid_t> children;
  for (int i = 0; i < nproc; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("launch: fork");
      for (pid_t c : children) kill(c, SIGTERM);
      return common::kExitFailure;
    }
    if (pid == 0) {
      setenv("RANK", absl::StrCat(node_rank * nproc + i).c_str(), 1);
      setenv("LOCAL_RANK", absl::StrCat(i).c_str(), 1);
      setenv("WORLD_SIZE", absl::StrCat(nnodes * nproc).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", absl::StrCat(nproc).c_str(), 1);
      setenv("GROUP_RANK", absl::StrCat(node_rank).c_str(), 1);
      setenv("MASTER_ADDR", absl::GetFlag(FLAGS_master_addr).c_str(), 1);
      setenv("MASTER_PORT", absl::StrCat(port).c_str(), 1);
      std::vector<char*> args(rest.begin() + 1, rest.end());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      std::fprintf(stderr, "launch: cannot run %s: %s\n", args[0],
                   std::strerror(errno));
      _exit(127);
    }
    children.push_back(pid);
  }

  int exit_code = common::kExitOk;
  size_t running = children.size();
  bool terminating = false;
  auto term_deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    if (g_signal != 0 && !terminating) {
      for (pid_t c : children) {
        if (c > 0) kill(c, g_signal);
      }
      terminating = true;
      exit_code = common::ExitCodeForSignal(g_signal);
      term_deadline = std::chrono::steady_clock::now() +
                      std::chrono::seconds(absl::GetFlag(FLAGS_kill_timeout_s));
    }
    int status = 0;
    pid_t done = waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (auto& c : children) {
        if (c != done) continue;
        c = -1;
        --running;
        int code = WIFEXITED(status)
                       ? WEXITSTATUS(status)
                       : common::ExitCodeForSignal(WTERMSIG(status));
        if (code != 0 && exit_code == 0) {
          exit_code = code;
          std::fprintf(
              stderr, "launch: a process exited with %d; stopping the others\n",
              code);
          for (pid_t o : children) {
            if (o > 0) kill(o, SIGTERM);
          }
          terminating = true;
          term_deadline =
              std::chrono::steady_clock::now() +
              std::chrono::seconds(absl::GetFlag(FLAGS_kill_timeout_s));
        }
      }
      continue;
    }
    if (terminating && std::chrono::steady_clock::now() > term_deadline) {
      for (pid_t o : children) {
        if (o > 0) kill(o, SIGKILL);
      }
      term_deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return exit_code;
}
