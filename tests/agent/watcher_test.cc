#include <gtest/gtest.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/sources/folder_watcher.h"
#include "tests/fixtures/fixtures.h"

namespace xgate::sources {
namespace {

namespace fs = std::filesystem;
using Event = DirectoryWatcher::Event;
constexpr std::chrono::milliseconds kQuiet{20};

// A stop fd that fires after a while, so a change that is never seen fails the test
// instead of hanging it.
class Timeout {
 public:
  Timeout() {
    fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    itimerspec spec{};
    spec.it_value.tv_sec = 10;
    timerfd_settime(fd_, 0, &spec, nullptr);
  }
  ~Timeout() { close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits for the next change, giving up (kStopped) after the timeout.
Event NextChange(DirectoryWatcher& w) {
  Timeout timeout;
  return w.Wait(timeout.fd(), kQuiet, kQuiet * 10);
}

// A pipe whose read end is readable from the start: Wait returns kStopped unless a change
// is already pending.
class StopPipe {
 public:
  StopPipe() {
    EXPECT_EQ(pipe(fds_), 0);
    EXPECT_EQ(write(fds_[1], "x", 1), 1);
  }
  ~StopPipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int fd() const { return fds_[0]; }

 private:
  int fds_[2];
};

TEST(DirectoryWatcher, MissingFolderIsRefused) {
  fixtures::TempDir dir;
  EXPECT_FALSE(DirectoryWatcher::Create(dir.path() / "absent").ok());
}

TEST(DirectoryWatcher, FileAddedChangedAndRemoved) {
  fixtures::TempDir dir;
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok()) << w.status();
  fixtures::WriteFile(dir.path() / "a.yaml", "kind: Namespace\n");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
  fixtures::WriteFile(dir.path() / "a.yaml", "kind: Namespace\nmetadata: {name: x}\n");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
  fs::remove(dir.path() / "a.yaml");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
}

// Changes that never pause for `quiet` (a busy cluster's CI writing manifests) still end the
// wait once `most` has passed: the reload is held back, never starved.
TEST(DirectoryWatcher, SteadyStreamOfChangesEndsTheWaitAtMost) {
  fixtures::TempDir dir;
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok()) << w.status();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done; ++i) {
      fixtures::WriteFile(dir.path() / "a.yaml", absl::StrCat("kind: Namespace\n# ", i, "\n"));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  Timeout timeout;  // without the bound, only this ends the wait (kStopped)
  Event got = (*w)->Wait(timeout.fd(), std::chrono::milliseconds(500), kQuiet * 5);
  done = true;
  writer.join();
  EXPECT_EQ(got, Event::kChanged);
}

TEST(DirectoryWatcher, StopFdEndsTheWaitWhenNothingChanged) {
  fixtures::TempDir dir;
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok());
  StopPipe stop;
  EXPECT_EQ((*w)->Wait(stop.fd(), kQuiet, kQuiet * 10), Event::kStopped);
}

TEST(DirectoryWatcher, EditorRenameOverIsAChange) {
  fixtures::TempDir dir;
  fixtures::WriteFile(dir.path() / "a.yaml", "kind: Namespace\n");
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok());
  fixtures::WriteFile(dir.path() / ".a.yaml.swp", "scratch");
  fs::rename(dir.path() / ".a.yaml.swp", dir.path() / "a.yaml");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
}

TEST(DirectoryWatcher, FilesInNewSubfoldersAreWatched) {
  fixtures::TempDir dir;
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok());
  fs::create_directory(dir.path() / "team");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
  fixtures::WriteFile(dir.path() / "team" / "route.yaml", "kind: Namespace\n");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
}

TEST(DirectoryWatcher, FolderGoneAndBack) {
  fixtures::TempDir dir;
  fs::path root = dir.path() / "manifests";
  fs::create_directory(root);
  auto w = DirectoryWatcher::Create(root);
  ASSERT_TRUE(w.ok());
  fs::remove_all(root);
  EXPECT_EQ(NextChange(**w), Event::kChanged);
  fs::create_directory(root);
  EXPECT_EQ(NextChange(**w), Event::kChanged);
  fixtures::WriteFile(root / "a.yaml", "kind: Namespace\n");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
}

// How a Kubernetes ConfigMap volume updates: new files in a hidden folder, then the
// "..data" symlink renamed over to point at it.
TEST(DirectoryWatcher, ConfigMapStyleSymlinkSwapIsAChange) {
  fixtures::TempDir dir;
  fs::create_directory(dir.path() / "..v1");
  fixtures::WriteFile(dir.path() / "..v1" / "a.yaml", "kind: Namespace\n");
  fs::create_directory_symlink("..v1", dir.path() / "..data");
  fs::create_symlink("..data/a.yaml", dir.path() / "a.yaml");
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok());
  fs::create_directory(dir.path() / "..v2");
  fixtures::WriteFile(dir.path() / "..v2" / "a.yaml", "kind: Namespace\nmetadata: {name: b}\n");
  fs::create_directory_symlink("..v2", dir.path() / "..data_tmp");
  fs::rename(dir.path() / "..data_tmp", dir.path() / "..data");
  EXPECT_EQ(NextChange(**w), Event::kChanged);
}

}  // namespace
}  // namespace xgate::sources
