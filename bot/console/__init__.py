"""The staff console: curate, review and publish the knowledge base from a browser.

A front end beside the Telegram bot and the CLI, built on the same core: the YAML files
in knowledge/ stay the single source of truth (history, review and rollback keep
working through files and git), every save is validated with the checks of `kb
check`, and "Publish" runs the same reindex as the command line. Nothing below this
package imports it; `migrant-bot console` serves it (Starlette, server-rendered
templates, a few lines of JavaScript for validation as staff type).
"""
