package datalake_platform.hadoop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system (checksummed, as `file:` is by default), setting permissions through
 * Java instead of a `chmod` process. Without its native library, which pyspark does not ship,
 * Hadoop runs `chmod` to set them: ~10 ms each, several per file a write makes.
 */
public class LocalFileSystem extends org.apache.hadoop.fs.LocalFileSystem {
  public LocalFileSystem() {
    super(new Raw());
  }

  /** Hadoop's raw local file system, but for how it sets permissions. */
  public static class Raw extends RawLocalFileSystem {
    private static final PosixFilePermission[] BY_BIT = PosixFilePermission.values(); // rwxrwxrwx, in order

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      int mode = permission.toShort();
      if ((mode & ~0777) != 0) { // a sticky bit: Java cannot set it, chmod can
        super.setPermission(p, permission);
        return;
      }
      Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
      for (int i = 0; i < BY_BIT.length; i++) {
        if ((mode & (0400 >> i)) != 0) {
          set.add(BY_BIT[i]);
        }
      }
      try {
        Files.setPosixFilePermissions(pathToFile(p).toPath(), set);
      } catch (UnsupportedOperationException notPosix) {
        super.setPermission(p, permission);
      }
    }
  }
}
