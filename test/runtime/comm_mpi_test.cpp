// The MPI communicator under `mpirun -np 3` (registered as a ctest that runs mpirun): every
// collective, uneven shards included, in fp32 and fp64, on every rank. A failure on any rank
// makes mpirun exit non-zero.
#include <gtest/gtest.h>

#include "runtime/comm.h"
#include "test/runtime/comm_checks.h"

using namespace lssa;

static LaunchInfo g_launch;

TEST(MpiComm, Collectives) {
  ASSERT_EQ(g_launch.kind, LaunchInfo::Kind::Mpi) << "run under mpirun";
  ASSERT_GE(g_launch.world, 2);
  auto c = make_communicator(g_launch, MemSpace::Host);
  EXPECT_STREQ(c->name(), "mpi");
  EXPECT_EQ(c->world(), g_launch.world);
  check_collectives<float>(*c, DType::F32);
  check_collectives<double>(*c, DType::F64);
}

int main(int argc, char** argv) {
  g_launch = detect_launch(argc, argv);  // MPI_Init
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
