package io.meridian.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The CPU time (user + system) a set of server processes spent, read from {@code /proc/<pid>/stat}
 * (Linux): what "CPU per operation" divides by the operations of a window.
 */
final class ProcessCpu {
  /** Clock ticks per second of /proc's times: 100 on the Linux kernels this runs on. */
  private static final double TICKS_PER_SECOND = 100;

  private final List<Long> pids;

  ProcessCpu(List<Long> pids) {
    this.pids = List.copyOf(pids);
  }

  /** The processes' CPU time so far, in milliseconds; NaN where /proc is not readable. */
  double millis() {
    long ticks = 0;
    for (long pid : pids) {
      try {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        // Fields after the command name (which may hold spaces): state is field 3, utime 14,
        // stime 15.
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
      } catch (IOException | RuntimeException e) {
        return Double.NaN;
      }
    }
    return ticks * 1000 / TICKS_PER_SECOND;
  }
}
