#include "common/file_env.h"

#include <stdlib.h>

#include <algorithm>
#include <string>

#include "common/fault_env.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

std::string MakeTempDir() {
  std::string tmpl = ::testing::TempDir() + "/file_env_test.XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

TEST(PosixEnvTest, FilesAndDirectories) {
  Env& env = PosixEnv();
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/a";
  absl::StatusOr<WritableFilePtr> file = env.NewAppendableFile(path, false);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Append("world").ok());
  ASSERT_TRUE((*file)->SyncData().ok());
  ASSERT_TRUE((*file)->Truncate(5).ok());
  ASSERT_TRUE((*file)->Append("!").ok());  // appends go to the (new) end
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_EQ(*ReadFileToString(env, path), "hello!");
  EXPECT_EQ(*env.FileSize(path), 6u);

  absl::StatusOr<RandomAccessFilePtr> reader = env.NewRandomAccessFile(path);
  ASSERT_TRUE(reader.ok());
  char scratch[16];
  EXPECT_EQ(*(*reader)->Read(1, 3, scratch), "ell");
  EXPECT_EQ(*(*reader)->Read(4, 10, scratch), "o!");  // short at the end

  ASSERT_TRUE(env.TruncateFile(path, 2).ok());
  EXPECT_EQ(*ReadFileToString(env, path), "he");
  ASSERT_TRUE(env.CreateDir(dir + "/sub").ok());
  ASSERT_TRUE(env.CreateDir(dir + "/sub").ok());  // exists: OK
  ASSERT_TRUE(env.Rename(path, dir + "/sub/b").ok());
  ASSERT_TRUE(env.SyncDir(dir).ok());
  std::vector<std::string> names = *env.ListDir(dir);
  EXPECT_EQ(names, std::vector<std::string>{"sub"});
  EXPECT_EQ(*env.ListDir(dir + "/sub"), std::vector<std::string>{"b"});
  ASSERT_TRUE(env.RemoveFile(dir + "/sub/b").ok());
  EXPECT_TRUE(absl::IsNotFound(env.FileSize(dir + "/sub/b").status()));
  EXPECT_TRUE(absl::IsNotFound(env.NewRandomAccessFile(dir + "/nope").status()));
  EXPECT_GT(*env.FreeBytes(dir), 0u);
}

TEST(PosixEnvTest, LockFileIsExclusiveUntilReleased) {
  Env& env = PosixEnv();
  const std::string path = MakeTempDir() + "/LOCK";
  absl::StatusOr<FileLockPtr> first = env.LockFile(path);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<FileLockPtr> second = env.LockFile(path);  // another open file description
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  first->reset();
  absl::StatusOr<FileLockPtr> third = env.LockFile(path);
  EXPECT_TRUE(third.ok()) << third.status();
  EXPECT_FALSE(env.LockFile("/nonexistent-dir/LOCK").ok());
}

TEST(PosixEnvTest, WriteFileAtomicallyReplacesContents) {
  Env& env = PosixEnv();
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteFileAtomically(env, dir, dir + "/pos", "one").ok());
  ASSERT_TRUE(WriteFileAtomically(env, dir, dir + "/pos", "two!").ok());
  EXPECT_EQ(*ReadFileToString(env, dir + "/pos"), "two!");
  EXPECT_EQ(*env.ListDir(dir), std::vector<std::string>{"pos"});  // no temp left
}

TEST(PosixEnvTest, MapReadOnlySeesTheFileAndOutlivesARenameOverIt) {
  Env& env = PosixEnv();
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomically(env, dir, path, "first contents").ok());
  absl::StatusOr<ReadOnlyMappingPtr> mapping = env.MapReadOnly(path);
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  EXPECT_EQ((*mapping)->data(), "first contents");
  ASSERT_TRUE(WriteFileAtomically(env, dir, path, "second").ok());
  EXPECT_EQ((*mapping)->data(), "first contents");  // the old file, still mapped
  ASSERT_TRUE(env.RemoveFile(path).ok());
  EXPECT_EQ((*mapping)->data(), "first contents");

  ASSERT_TRUE(WriteFileAtomically(env, dir, path, "").ok());
  absl::StatusOr<ReadOnlyMappingPtr> empty = env.MapReadOnly(path);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE((*empty)->data().empty());
  EXPECT_EQ(env.MapReadOnly(dir + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(FaultEnvTest, InjectsEachFault) {
  FaultEnv env(PosixEnv());
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/f";
  WritableFilePtr file = std::move(*env.NewAppendableFile(path, false));

  env.set_fail_write(true);
  EXPECT_FALSE(file->Append("x").ok());
  env.set_fail_write(false);
  EXPECT_EQ(*env.FileSize(path), 0u);

  env.set_no_space(true);
  EXPECT_TRUE(absl::IsResourceExhausted(file->Append("x")));
  env.set_no_space(false);

  env.TearNextWrite(3);
  EXPECT_FALSE(file->Append("abcdef").ok());
  EXPECT_EQ(*ReadFileToString(env, path), "abc");  // the torn prefix reached the file
  EXPECT_TRUE(file->Append("gh").ok());            // only the next write tears
  EXPECT_EQ(*ReadFileToString(env, path), "abcgh");

  env.set_fail_sync(true);
  EXPECT_FALSE(file->SyncData().ok());
  EXPECT_FALSE(file->Sync().ok());
  EXPECT_FALSE(env.SyncDir(dir).ok());
  env.set_fail_sync(false);
  env.set_fail_dir_sync(true);
  EXPECT_FALSE(env.SyncDir(dir).ok());
  EXPECT_TRUE(file->SyncData().ok());
  env.set_fail_dir_sync(false);
  EXPECT_EQ(env.data_syncs(), 1);

  env.set_free_bytes(1234);
  EXPECT_EQ(*env.FreeBytes(dir), 1234u);
  env.set_free_bytes(-1);
  EXPECT_NE(*env.FreeBytes(dir), 1234u);
}

}  // namespace
}  // namespace cohort
