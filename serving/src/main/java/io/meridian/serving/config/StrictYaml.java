package io.meridian.serving.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.util.stream.Collectors;

/**
 * The one YAML reader of configuration files: a key given twice in one mapping, a second document,
 * an empty file and a file that is not a mapping of keys are refused, so a typo cannot silently
 * override a setting or leave every key at its default.
 */
final class StrictYaml {
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private StrictYaml() {}

  /** The file's top-level mapping. */
  static ObjectNode read(String text, String source) {
    JsonNode root;
    try {
      root = YAML.readTree(text);
    } catch (JsonProcessingException e) {
      throw refusal(e, source);
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      throw new ConfigException(source, null, "empty (expected: a mapping of keys)");
    }
    if (!root.isObject()) {
      throw new ConfigException(source, null, root + " (expected: a mapping of keys)");
    }
    return (ObjectNode) root;
  }

  private static ConfigException refusal(JsonProcessingException e, String source) {
    String message = e.getOriginalMessage();
    if (message.startsWith("Duplicate field") && e.getProcessor() instanceof JsonParser p) {
      return new ConfigException(
          source, path(p.getParsingContext()), "given twice (expected: each key once)");
    }
    String where =
        e.getLocation() == null
            ? ""
            : " at line "
                + e.getLocation().getLineNr()
                + ", column "
                + e.getLocation().getColumnNr();
    if (message.startsWith("Trailing token")) {
      return new ConfigException(
          source, null, "a second document" + where + " (expected: one document)");
    }
    return new ConfigException(
        source, null, "not YAML" + where + ": " + headline(message) + " (expected: YAML)");
  }

  /** The parser's position as a key path: {@code shards[1].epoch}. */
  static String path(JsonStreamContext context) {
    if (context == null || context.inRoot()) {
      return "";
    }
    String parent = path(context.getParent());
    if (context.inArray()) {
      return parent + "[" + context.getCurrentIndex() + "]";
    }
    return parent.isEmpty() ? context.getCurrentName() : parent + "." + context.getCurrentName();
  }

  // SnakeYAML's messages quote the offending lines with a caret below; keep only its sentences.
  private static String headline(String message) {
    return message
        .lines()
        .filter(line -> !line.isBlank() && !Character.isWhitespace(line.charAt(0)))
        .collect(Collectors.joining("; "));
  }
}
