package io.meridian.serving;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.math.BigDecimal;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Explains why a JSON body is not a valid request message, in the words of the request: the JSON
 * path of the first offending field (as the caller spelt it), what it holds and what it should
 * hold, e.g. {@code value: not base64} or {@code consistency: "BOGUS" (expected: one of
 * LINEARIZABLE, ...)}. Parsers report a failure without the field and with their own class names;
 * this reads the body again, only once it was refused, and never names a Java class.
 */
final class JsonRefusals {
  private JsonRefusals() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A qualified Java class name with an optional {@code ": "} after it, as parsers prefix. */
  private static final Pattern CLASS_NAME =
      Pattern.compile("\\b(?:[a-z_][a-z0-9_]*\\.)+[A-Z][\\w$]*(?::\\s*)?");

  /** The message for body {@code json} of {@code type}, which a parser refused with {@code why}. */
  static String explain(String json, Descriptor type, Throwable why) {
    if (json.isBlank()) {
      return "body: " + withoutClassNames(why.getMessage());
    }
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      return malformed(e);
    }
    if (!root.isObject()) {
      return "malformed JSON: expected an object {...} (a " + type.getName() + ")";
    }
    return fault("", root, type)
        .orElseGet(() -> "body: " + withoutClassNames(String.valueOf(why.getMessage())));
  }

  /** {@code malformed JSON: <what> at line L, column C} for a body that is not JSON at all. */
  static String malformed(JsonProcessingException e) {
    JsonLocation at = e.getLocation();
    String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
    return "malformed JSON: " + withoutClassNames(e.getOriginalMessage()) + where;
  }

  /** {@code message} without the Java class names parsers put in it. */
  static String withoutClassNames(String message) {
    return message == null ? "" : CLASS_NAME.matcher(message).replaceAll("").strip();
  }

  private static Optional<String> fault(String path, JsonNode object, Descriptor type) {
    if (isWellKnown(type)) {
      return Optional.empty();
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String name = path + entry.getKey();
      FieldDescriptor field = fieldOf(type, entry.getKey());
      if (field == null) {
        return Optional.of(
            name
                + ": unknown field of "
                + type.getName()
                + " (expected: one of "
                + type.getFields().stream()
                    .map(FieldDescriptor::getJsonName)
                    .collect(Collectors.joining(", "))
                + ")");
      }
      Optional<String> fault = fieldFault(name, entry.getValue(), field);
      if (fault.isPresent()) {
        return fault;
      }
    }
    return Optional.empty();
  }

  private static Optional<String> fieldFault(String name, JsonNode value, FieldDescriptor field) {
    if (value.isNull()) {
      return Optional.empty();
    }
    if (field.isMapField()) {
      if (!value.isObject()) {
        return Optional.of(name + ": " + shown(value) + " (expected: an object)");
      }
      FieldDescriptor valueField = field.getMessageType().findFieldByName("value");
      for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> entry = it.next();
        Optional<String> fault =
            singleFault(name + "." + entry.getKey(), entry.getValue(), valueField);
        if (fault.isPresent()) {
          return fault;
        }
      }
      return Optional.empty();
    }
    if (field.isRepeated()) {
      if (!value.isArray()) {
        return Optional.of(name + ": " + shown(value) + " (expected: an array)");
      }
      for (int i = 0; i < value.size(); i++) {
        Optional<String> fault = singleFault(name + "[" + i + "]", value.get(i), field);
        if (fault.isPresent()) {
          return fault;
        }
      }
      return Optional.empty();
    }
    return singleFault(name, value, field);
  }

  private static Optional<String> singleFault(String name, JsonNode value, FieldDescriptor field) {
    String expected;
    switch (field.getJavaType()) {
      case MESSAGE -> {
        if (isWellKnown(field.getMessageType())) {
          return Optional.empty();
        }
        if (value.isObject()) {
          return fault(name + ".", value, field.getMessageType());
        }
        expected = "an object";
      }
      case ENUM -> expected = isEnumValue(value, field.getEnumType()) ? null : enumValues(field);
      case BYTE_STRING -> {
        if (value.isTextual()) {
          return isBase64(value.asText()) ? Optional.empty() : Optional.of(name + ": not base64");
        }
        expected = "a base64 string";
      }
      case INT, LONG -> expected = isInteger(value) ? null : "an integer";
      case FLOAT, DOUBLE -> expected = isNumber(value) ? null : "a number";
      case BOOLEAN -> expected = isBoolean(value) ? null : "true or false";
      // Parsers take any scalar for a string; only an object or an array is wrong.
      default -> expected = value.isValueNode() ? null : "a string";
    }
    return expected == null
        ? Optional.empty()
        : Optional.of(name + ": " + shown(value) + " (expected: " + expected + ")");
  }

  private static FieldDescriptor fieldOf(Descriptor type, String name) {
    for (FieldDescriptor f : type.getFields()) {
      if (f.getJsonName().equals(name) || f.getName().equals(name)) {
        return f;
      }
    }
    return null;
  }

  /** Timestamps, durations, wrappers, Any, Struct: their JSON forms are not plain objects. */
  private static boolean isWellKnown(Descriptor type) {
    return type.getFullName().startsWith("google.protobuf.");
  }

  private static boolean isBoolean(JsonNode value) {
    return value.isBoolean() || value.asText().equals("true") || value.asText().equals("false");
  }

  private static boolean isEnumValue(JsonNode value, EnumDescriptor type) {
    if (value.isIntegralNumber()) {
      return true;
    }
    return value.isTextual() && type.findValueByName(value.asText()) != null;
  }

  private static String enumValues(FieldDescriptor field) {
    return "one of "
        + field.getEnumType().getValues().stream()
            .filter(v -> v.getNumber() != 0 || !v.getName().endsWith("_UNSPECIFIED"))
            .map(EnumValueDescriptor::getName)
            .collect(Collectors.joining(", "));
  }

  /** Proto3 JSON takes standard and URL-safe base64, padded or not. */
  private static boolean isBase64(String text) {
    try {
      Base64.getDecoder().decode(text);
      return true;
    } catch (IllegalArgumentException standard) {
      try {
        Base64.getUrlDecoder().decode(text);
        return true;
      } catch (IllegalArgumentException urlSafe) {
        return false;
      }
    }
  }

  /** Proto3 JSON takes 64-bit integers as numbers or as strings, e.g. {@code "42"}. */
  private static boolean isInteger(JsonNode value) {
    if (value.isIntegralNumber()) {
      return true;
    }
    BigDecimal number = decimalOf(value);
    return number != null && number.stripTrailingZeros().scale() <= 0;
  }

  private static boolean isNumber(JsonNode value) {
    if (value.isNumber()) {
      return true;
    }
    String text = value.asText();
    return decimalOf(value) != null
        || text.equals("NaN")
        || text.equals("Infinity")
        || text.equals("-Infinity");
  }

  private static BigDecimal decimalOf(JsonNode value) {
    if (value.isNumber()) {
      return value.decimalValue();
    }
    if (!value.isTextual()) {
      return null;
    }
    try {
      return new BigDecimal(value.asText());
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** The value as the caller wrote it, cut short if long. */
  private static String shown(JsonNode value) {
    String text = value.toString();
    return text.length() <= 40 ? text : text.substring(0, 37) + "...";
  }
}
