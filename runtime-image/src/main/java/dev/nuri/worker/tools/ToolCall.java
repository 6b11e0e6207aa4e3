package dev.nuri.worker.tools;

/** One function call the model made: {@code arguments} is JSON text, as OpenAI's API carries it. */
public record ToolCall(String id, String name, String arguments) {}
