// Type-aware lint for every workspace: promise hygiene, module boundaries, node: imports.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/dist/**", "**/node_modules/**", "**/src/gen/**", "**/*.js", "**/*.mjs"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "no-empty": ["error", { allowEmptyCatch: false }],
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@sandboxd/*/src/*", "@sandboxd/*/dist/*"],
              message: "import a package by its public entry",
            },
            {
              group: ["@sandboxd/daemon", "@sandboxd/sandboxer", "@sandboxd/cli"],
              message: "executables are not libraries",
            },
          ],
        },
      ],
      "no-restricted-properties": [
        "error",
        { object: "test", property: "only", message: "no .only in committed tests" },
        { object: "describe", property: "only", message: "no .only in committed tests" },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts", "packages/testing/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "no-restricted-imports": "off",
    },
  },
);
