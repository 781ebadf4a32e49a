package io.meridian.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * How a command prints its answer: a table for people (the default), or the response message as
 * JSON or YAML for scripts. JSON is the API's own JSON mapping with every field present, so a
 * script can rely on a field being there even when it holds its default.
 */
final class Output {
  /** {@code -o} values. */
  enum Format {
    table,
    json,
    yaml
  }

  /** Marks a value that is not UTF-8 text in a table: the rest is its base64. */
  static final String BASE64_MARK = "base64:";

  private static final JsonFormat.Printer JSON = JsonFormat.printer().includingDefaultValueFields();
  private static final JsonFormat.Printer JSON_LINE = JSON.omittingInsignificantWhitespace();
  private static final ObjectMapper YAML =
      new ObjectMapper(
          new YAMLFactory()
              .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
              .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

  private final Format format;
  private final PrintWriter out;

  Output(Format format, PrintWriter out) {
    this.format = format;
    this.out = out;
  }

  /** Prints {@code response}: {@code table} when the format is a table, else the message itself. */
  void print(MessageOrBuilder response, Table table) {
    switch (format) {
      case table -> table.print(out);
      case json -> out.println(json(response));
      case yaml -> out.print(yaml(response));
    }
    out.flush();
  }

  /**
   * Prints an answer made of several responses: {@code tables} one after another, blank-line
   * separated, or {@code tree} as JSON or YAML.
   */
  void print(JsonNode tree, Table... tables) {
    switch (format) {
      case table -> {
        for (int i = 0; i < tables.length; i++) {
          if (i > 0) {
            out.println();
          }
          tables[i].print(out);
        }
      }
      case json -> {
        try {
          out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(tree));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      case yaml -> {
        try {
          out.print(YAML.writeValueAsString(tree));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
    out.flush();
  }

  /**
   * Prints one answer of a stream ({@code lease keep-alive}): {@code line} for people; for scripts
   * one JSON object per line (JSON Lines), or one YAML document each.
   */
  void printEach(MessageOrBuilder response, String line) {
    switch (format) {
      case table -> out.println(line);
      case json -> out.println(jsonLine(response));
      case yaml -> out.print("---\n" + yaml(response));
    }
    out.flush();
  }

  /** The output format. */
  Format format() {
    return format;
  }

  /** {@code message} in the API's JSON mapping, as a tree to combine with others. */
  static JsonNode tree(MessageOrBuilder message) {
    try {
      return new ObjectMapper().readTree(json(message));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String json(MessageOrBuilder message) {
    return render(JSON, message);
  }

  /** {@code message} as JSON on one line. */
  static String jsonLine(MessageOrBuilder message) {
    return render(JSON_LINE, message);
  }

  private static String render(JsonFormat.Printer printer, MessageOrBuilder message) {
    try {
      return printer.print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("a response that cannot be printed as JSON: " + e, e);
    }
  }

  private static String yaml(MessageOrBuilder message) {
    try {
      return YAML.writeValueAsString(tree(message));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code value} as text when it is UTF-8 without control characters, else marked base64. */
  static String text(ByteString value) {
    try {
      String s =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(value.toByteArray()))
              .toString();
      if (s.chars().noneMatch(c -> Character.isISOControl(c) && c != '\t')) {
        return s;
      }
    } catch (CharacterCodingException e) {
      // Not text: base64 below.
    }
    return BASE64_MARK + Base64.getEncoder().encodeToString(value.toByteArray());
  }

  /** Rows under a header, columns padded to their widest cell. */
  static final class Table {
    private final List<String[]> rows = new ArrayList<>();

    Table(String... header) {
      rows.add(header);
    }

    Table row(Object... cells) {
      String[] r = new String[cells.length];
      for (int i = 0; i < cells.length; i++) {
        r[i] = String.valueOf(cells[i]);
      }
      rows.add(r);
      return this;
    }

    void print(PrintWriter out) {
      int columns = rows.get(0).length;
      int[] width = new int[columns];
      for (String[] r : rows) {
        for (int i = 0; i < columns; i++) {
          width[i] = Math.max(width[i], r[i].length());
        }
      }
      for (String[] r : rows) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < columns; i++) {
          line.append(i == columns - 1 ? r[i] : pad(r[i], width[i] + 2));
        }
        out.println(line.toString().stripTrailing());
      }
    }

    private static String pad(String s, int width) {
      return s + " ".repeat(width - s.length());
    }
  }
}
