package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The confirmation every command that changes a shard's role asks for: on a terminal, the operator
 * types {@code yes}; {@code --yes} runs unattended. Without a terminal and without {@code --yes} it
 * refuses (exit 2) rather than wait for an answer no one will type.
 */
final class Confirmation {
  private Confirmation() {}

  /**
   * Returns once {@code change} (e.g. "make shard 0 in us-west PRIMARY at epoch 3") is confirmed;
   * throws otherwise, having changed nothing.
   */
  static void require(Meridianctl root, CommandSpec spec, boolean yes, String change) {
    if (yes) {
      return;
    }
    if (!root.terminal()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--yes: not given, and there is no terminal to confirm on (expected: --yes to "
              + change
              + " unattended)");
    }
    PrintWriter err = spec.commandLine().getErr();
    err.print(change + "? Type 'yes' to go on: ");
    err.flush();
    String answer;
    try {
      answer =
          new BufferedReader(new InputStreamReader(root.in(), StandardCharsets.UTF_8)).readLine();
    } catch (IOException e) {
      answer = null;
    }
    if (answer == null || !answer.strip().equals("yes")) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "not confirmed (the answer was not 'yes'): nothing changed");
    }
  }
}
