// Communicator::AgreeOn over a real two-rank Gloo group on loopback: the
// ranks are two threads of this process.
#include "trainer/distributed.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainer {
namespace {

using ::common_testing::IsOk;
using ::common_testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Runs `body(rank, communicator)` on two ranks at once and returns each
// rank's status.
template <typename Body>
std::vector<absl::Status> OnTwoRanks(Body body) {
  const int port = FreePort();
  EXPECT_GT(port, 0);
  std::vector<absl::Status> out(2);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      DistributedConfig c;
      c.world_size = 2;
      c.rank = rank;
      c.local_rank = rank;
      c.master_addr = "127.0.0.1";
      c.master_port = port;
      c.timeout = std::chrono::seconds(60);
      auto comm = Communicator::Create(c);
      if (!comm.ok()) {
        out[rank] = comm.status();
        return;
      }
      out[rank] = body(rank, **comm);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

TEST(CommunicatorTest, AgreeOnIsOkWhenEveryRankSucceeded) {
  auto st = OnTwoRanks([](int, Communicator& comm) {
    return comm.AgreeOn(absl::OkStatus(), "at the end of epoch 1");
  });
  EXPECT_THAT(st[0], IsOk());
  EXPECT_THAT(st[1], IsOk());
}

TEST(CommunicatorTest, AFailureOnRankZeroStopsTheOtherRankAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  auto st = OnTwoRanks([](int rank, Communicator& comm) {
    absl::Status local =
        rank == 0
            ? absl::PermissionDeniedError("cannot write /out/training.png")
            : absl::OkStatus();
    absl::Status agreed = comm.AgreeOn(local, "at the end of epoch 2");
    if (!agreed.ok()) return agreed;
    // Had the ranks not agreed, rank 1 would wait here for rank 0 until
    // the 60 s timeout.
    return comm.Barrier();
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_THAT(st[0], StatusIs(absl::StatusCode::kPermissionDenied,
                              HasSubstr("training.png")));
  EXPECT_THAT(st[1],
              StatusIs(absl::StatusCode::kAborted,
                       AllOf(HasSubstr("rank 0 failed at the end of epoch 2"),
                             HasSubstr("PERMISSION_DENIED"),
                             HasSubstr("cannot write /out/training.png"))));
  EXPECT_LT(seconds, 30.0);
}

TEST(CommunicatorTest, EveryFailedRankIsNamedAndLongMessagesAreCut) {
  const std::string long_message(3 * Communicator::kAgreeMessageBytes, 'x');
  auto st = OnTwoRanks([&](int rank, Communicator& comm) {
    absl::Status local =
        rank == 1 ? absl::NotFoundError(long_message) : absl::OkStatus();
    return comm.AgreeOn(local, "loading batch 3 of epoch 1");
  });
  EXPECT_THAT(st[0], StatusIs(absl::StatusCode::kAborted,
                              HasSubstr("rank 1 failed loading batch 3")));
  EXPECT_LT(st[0].message().size(), 2u * Communicator::kAgreeMessageBytes);
  EXPECT_THAT(st[1], StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(st[0], Not(IsOk()));
}

TEST(CommunicatorTest, OneProcessAgreesWithItself) {
  auto comm = Communicator::Create(DistributedConfig());
  ASSERT_OK(comm);
  EXPECT_THAT((*comm)->AgreeOn(absl::OkStatus(), "x"), IsOk());
  EXPECT_THAT((*comm)->AgreeOn(absl::InternalError("boom"), "x"),
              StatusIs(absl::StatusCode::kInternal, "boom"));
}

}  // namespace
}  // namespace trainer
