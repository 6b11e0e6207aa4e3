package dev.nuri.worker.api;

import dev.nuri.worker.engine.SamplingParams;

import java.util.List;

/** A validated /v1/completions or /v1/chat/completions request. */
record ParsedRequest(boolean chat, List<int[]> prompts, List<String> echoTexts, int n, SamplingParams params,
                     boolean stream, boolean includeUsage) {}
