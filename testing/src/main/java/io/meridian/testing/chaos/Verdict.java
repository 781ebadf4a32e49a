package io.meridian.testing.chaos;

import java.util.List;

/**
 * What a checker concluded about a history.
 *
 * @param valid whether the history satisfies the checked property
 * @param explanation for a violation, what is wrong; otherwise a summary of what was checked
 * @param evidence for a violation, the operations that show it (as few as the checker could find)
 */
public record Verdict(boolean valid, String explanation, List<Operation> evidence) {
  public Verdict {
    evidence = List.copyOf(evidence);
  }

  static Verdict ok(int operations) {
    return new Verdict(true, operations + " operations checked", List.of());
  }

  static Verdict violation(String explanation, List<Operation> evidence) {
    return new Verdict(false, explanation, evidence);
  }

  /** The explanation and, one per line, the evidence. */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder(valid ? "valid: " : "VIOLATION: ").append(explanation);
    evidence.forEach(op -> b.append("\n  ").append(op));
    return b.toString();
  }
}
