package io.meridian.ctl;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.TxnRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A transaction written as etcdctl's {@code txn} reads it: compares, a blank line, the ops to run
 * when every compare holds, a blank line, the ops to run otherwise.
 *
 * <pre>
 * mod("/shop/stock") &gt; "5"
 * value("/shop/mode") = "open"
 * lock("/shop/locks/stock") = "42"
 *
 * put /shop/stock "4"
 * get /shop/stock
 *
 * del /shop/stock --prefix
 * </pre>
 *
 * <p>Compares: {@code TARGET("KEY") OP VALUE} with TARGET one of {@code version} ({@code ver},
 * {@code v}), {@code create} ({@code c}), {@code mod} ({@code m}), {@code value} ({@code val}),
 * {@code lease}, or {@code lock} ({@code lock_token}: the fencing token of the lock named KEY:
 * {@code = T} holds while the holder of token T still holds it, {@code > T} and {@code < T} compare
 * the holder's token); OP one of {@code = != > <}; VALUE a quoted or bare word. Ops: {@code put KEY
 * VALUE [--lease=ID]}, {@code get KEY [--prefix] [--rev=N] [--limit=N] [--keys-only]
 * [--count-only]}, {@code del KEY [--prefix]}. Lines that begin with {@code #} are comments.
 */
final class TxnScript {
  private static final Pattern COMPARE =
      Pattern.compile("(\\w+)\\(\\s*\"((?:[^\"\\\\]|\\\\.)*)\"\\s*\\)\\s*(!=|==|=|>|<)\\s*(.*)");

  /** A line that is not what the grammar expects there. */
  static final class SyntaxError extends Exception {
    SyntaxError(int line, String message) {
      super("line " + line + ": " + message);
    }
  }

  /** Which part of the script a line belongs to. */
  enum Section {
    COMPARES,
    SUCCESS,
    FAILURE
  }

  private final TxnRequest.Builder txn = TxnRequest.newBuilder();
  private Section section = Section.COMPARES;
  private int line;

  /** Parses a whole script. */
  static TxnRequest parse(List<String> lines) throws SyntaxError {
    TxnScript script = new TxnScript();
    for (String l : lines) {
      if (!script.add(l)) {
        break;
      }
    }
    return script.request();
  }

  /** The section the next line goes to. */
  Section section() {
    return section;
  }

  /** Adds the next line; false once the failure ops have ended (a blank line after them). */
  boolean add(String text) throws SyntaxError {
    line++;
    String s = text.strip();
    if (s.startsWith("#")) {
      return true;
    }
    if (s.isEmpty()) {
      if (section == Section.FAILURE) {
        return false;
      }
      section = section == Section.COMPARES ? Section.SUCCESS : Section.FAILURE;
      return true;
    }
    switch (section) {
      case COMPARES -> txn.addCompare(compare(s));
      case SUCCESS -> txn.addSuccess(op(s));
      case FAILURE -> txn.addFailure(op(s));
    }
    return true;
  }

  TxnRequest request() {
    return txn.build();
  }

  private Compare compare(String s) throws SyntaxError {
    Matcher m = COMPARE.matcher(s);
    if (!m.matches()) {
      throw new SyntaxError(
          line,
          "'"
              + s
              + "' (expected: a compare such as mod(\"/ns/key\") > \"5\", or a blank line before"
              + " the ops)");
    }
    String key = unescape(m.group(2));
    Compare.Builder c = Compare.newBuilder().setKey(key).setResult(result(m.group(3)));
    String raw = m.group(4).strip();
    String value;
    if (raw.startsWith("\"")) {
      if (raw.length() < 2 || !raw.endsWith("\"")) {
        throw new SyntaxError(line, raw + " (expected: a value in double quotes)");
      }
      value = unescape(raw.substring(1, raw.length() - 1));
    } else if (!raw.isEmpty() && raw.chars().noneMatch(Character::isWhitespace)) {
      value = raw;
    } else {
      throw new SyntaxError(line, "'" + raw + "' (expected: a value such as \"5\")");
    }
    String target = m.group(1).toLowerCase(java.util.Locale.ROOT);
    switch (target) {
      case "v", "ver", "version" ->
          c.setTarget(Compare.Target.VERSION).setVersion(number(target, value));
      case "c", "create" ->
          c.setTarget(Compare.Target.CREATE).setCreateRevision(number(target, value));
      case "m", "mod" -> c.setTarget(Compare.Target.MOD).setModRevision(number(target, value));
      case "val", "value" ->
          c.setTarget(Compare.Target.VALUE).setValue(ByteString.copyFromUtf8(value));
      case "lease" -> c.setTarget(Compare.Target.LEASE).setLease(number(target, value));
      case "lock", "lock_token" ->
          c.setTarget(Compare.Target.LOCK_TOKEN).setLockToken(number(target, value));
      default ->
          throw new SyntaxError(
              line,
              m.group(1)
                  + " (expected: version, create, mod, value, lease or lock before (\"KEY\"))");
    }
    return c.build();
  }

  private static Compare.Result result(String op) {
    return switch (op) {
      case "=", "==" -> Compare.Result.EQUAL;
      case "!=" -> Compare.Result.NOT_EQUAL;
      case ">" -> Compare.Result.GREATER;
      default -> Compare.Result.LESS;
    };
  }

  private long number(String target, String value) throws SyntaxError {
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new SyntaxError(line, target + ": '" + value + "' (expected: a whole number)");
    }
  }

  private RequestOp op(String s) throws SyntaxError {
    List<String> words = words(s);
    String verb = words.get(0).toLowerCase(java.util.Locale.ROOT);
    List<String> args = new ArrayList<>();
    List<String> flags = new ArrayList<>();
    for (String w : words.subList(1, words.size())) {
      (w.startsWith("--") ? flags : args).add(w);
    }
    switch (verb) {
      case "put" -> {
        arity(verb, args, 2, "put KEY VALUE [--lease=ID]");
        PutRequest.Builder put =
            PutRequest.newBuilder()
                .setKey(args.get(0))
                .setValue(ByteString.copyFromUtf8(args.get(1)));
        for (String f : flags) {
          put.setLease(numberFlag(f, "--lease", "put KEY VALUE [--lease=ID]"));
        }
        return RequestOp.newBuilder().setRequestPut(put).build();
      }
      case "get" -> {
        String usage = "get KEY [--prefix] [--rev=N] [--limit=N] [--keys-only] [--count-only]";
        arity(verb, args, 1, usage);
        RangeRequest.Builder get = RangeRequest.newBuilder().setKey(args.get(0));
        for (String f : flags) {
          switch (f.contains("=") ? f.substring(0, f.indexOf('=')) : f) {
            case "--prefix" -> get.setPrefix(true);
            case "--keys-only" -> get.setKeysOnly(true);
            case "--count-only" -> get.setCountOnly(true);
            case "--rev" -> get.setRevision(numberFlag(f, "--rev", usage));
            case "--limit" -> get.setLimit(numberFlag(f, "--limit", usage));
            default -> throw new SyntaxError(line, f + " (expected: " + usage + ")");
          }
        }
        return RequestOp.newBuilder().setRequestRange(get).build();
      }
      case "del", "delete" -> {
        arity(verb, args, 1, "del KEY [--prefix]");
        DeleteRangeRequest.Builder del = DeleteRangeRequest.newBuilder().setKey(args.get(0));
        for (String f : flags) {
          if (!f.equals("--prefix")) {
            throw new SyntaxError(line, f + " (expected: del KEY [--prefix])");
          }
          del.setPrefix(true);
        }
        return RequestOp.newBuilder().setRequestDeleteRange(del).build();
      }
      default ->
          throw new SyntaxError(
              line, "'" + words.get(0) + "' (expected: an op: put, get or del, or a blank line)");
    }
  }

  private void arity(String verb, List<String> args, int n, String usage) throws SyntaxError {
    if (args.size() != n) {
      throw new SyntaxError(
          line, verb + " with " + args.size() + " argument(s) (expected: " + usage + ")");
    }
  }

  private long numberFlag(String flag, String name, String usage) throws SyntaxError {
    if (!flag.startsWith(name + "=")) {
      throw new SyntaxError(line, flag + " (expected: " + usage + ")");
    }
    return number(name, flag.substring(name.length() + 1));
  }

  /** Words split at blanks; a word in double quotes keeps its blanks ({@code \"} escapes). */
  private List<String> words(String s) throws SyntaxError {
    List<String> words = new ArrayList<>();
    StringBuilder w = new StringBuilder();
    boolean quoted = false;
    boolean inWord = false;
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (quoted) {
        if (ch == '\\' && i + 1 < s.length()) {
          w.append(s.charAt(++i));
        } else if (ch == '"') {
          quoted = false;
        } else {
          w.append(ch);
        }
      } else if (ch == '"') {
        quoted = true;
        inWord = true;
      } else if (Character.isWhitespace(ch)) {
        if (inWord) {
          words.add(w.toString());
          w.setLength(0);
          inWord = false;
        }
      } else {
        w.append(ch);
        inWord = true;
      }
    }
    if (quoted) {
      throw new SyntaxError(line, "an unclosed \" (expected: a closing double quote)");
    }
    if (inWord) {
      words.add(w.toString());
    }
    return words;
  }

  private static String unescape(String s) {
    return s.replaceAll("\\\\(.)", "$1");
  }
}
