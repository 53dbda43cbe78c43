// The extension and the shared views in js/ are TypeScript sources; rspack's own SWC
// loader compiles them inside JupyterLab's build. React is JupyterLab's shared copy:
// every file resolves `react` and `react-dom` to the one package.
const path = require("node:path");

const dir = (name) => path.dirname(require.resolve(`${name}/package.json`));

module.exports = {
  module: {
    rules: [
      {
        test: /\.tsx?$/,
        loader: "builtin:swc-loader",
        options: {
          jsc: {
            parser: { syntax: "typescript", tsx: true },
            transform: { react: { runtime: "automatic" } },
            target: "es2020",
          },
        },
        type: "javascript/auto",
      },
    ],
  },
  resolve: {
    extensions: [".ts", ".tsx", ".js"],
    alias: { react: dir("react"), "react-dom": dir("react-dom") },
  },
};
